"""List machinery as a REST client sees it: paging, filter prefixes, select masks, order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from simulator import Simulator
from simulator.core.listing import parse_bool, parse_start, resolve_select, split_key
from simulator.crm import tables as crm_tables
from simulator.crm.ops import build_row
from tests.simulator.crm_helpers import add_people, result


@pytest.fixture
def deals(sim: Simulator) -> Simulator:
    """120 deals: "Deal 000".."Deal 119", OPPORTUNITY = 100 * n, owners 1/2/3 in turn,
    created one hour apart, every tenth won; deal n has a phone "+7900000nnnn"."""
    add_people(sim)
    with sim.transaction() as ctx:
        start = ctx.now - timedelta(hours=200)
        rows = []
        for n in range(120):
            fields = {"TITLE": f"Deal {n:03d}", "OPPORTUNITY": 100 * n,
                      "ASSIGNED_BY_ID": n % 3 + 1, "STAGE_ID": "WON" if n % 10 == 0 else "NEW",
                      "COMMENTS": "vip client" if n % 7 == 0 else ""}
            rows.append(build_row(ctx, 2, fields, created=start + timedelta(hours=n)))
        ctx.conn.execute(crm_tables.crm_items.insert(), rows)
    return sim


def titles(page: list[dict[str, Any]]) -> list[str]:
    return [item["TITLE"] for item in page]


def deal_list(sim: Simulator, **params: Any) -> dict[str, Any]:
    return sim.call("crm.deal.list", {"order": {"ID": "ASC"}, **params})


def test_pages_of_fifty_with_next_and_total(deals: Simulator) -> None:
    first = deal_list(deals)
    assert len(first["result"]) == 50 and first["next"] == 50 and first["total"] == 120
    second = deal_list(deals, start=first["next"])
    assert second["next"] == 100
    last = deal_list(deals, start=second["next"])
    assert len(last["result"]) == 20 and "next" not in last and last["total"] == 120
    seen = titles(first["result"]) + titles(second["result"]) + titles(last["result"])
    assert seen == [f"Deal {n:03d}" for n in range(120)]


def test_start_minus_one_skips_total_and_next_for_id_paging(deals: Simulator) -> None:
    page = deal_list(deals, start=-1)
    assert len(page["result"]) == 50
    assert page["total"] == 0 and "next" not in page
    # The bulk export the portal recommends: >ID of the last row, order ID ASC.
    exported: list[str] = []
    last_id = 0
    while True:
        chunk = deal_list(deals, start=-1, filter={">ID": last_id})["result"]
        exported += titles(chunk)
        if len(chunk) < 50:
            break
        last_id = int(chunk[-1]["ID"])
    assert len(exported) == 120 and len(set(exported)) == 120


def test_no_next_when_exactly_one_page_remains(deals: Simulator) -> None:
    page = deal_list(deals, filter={"<OPPORTUNITY": 5000})
    assert page["total"] == 50 and "next" not in page


def all_items(sim: Simulator, **params: Any) -> list[dict[str, Any]]:
    """Every match, following ``next`` page by page."""
    items: list[dict[str, Any]] = []
    start: int | None = 0
    while start is not None:
        page = deal_list(sim, start=start, **params)
        items += page["result"]
        start = page.get("next")
    return items


def ids_of(sim: Simulator, *titles_wanted: str) -> list[int]:
    by_title = {i["TITLE"]: int(i["ID"]) for i in all_items(sim, select=["TITLE"])}
    return [by_title[t] for t in titles_wanted]


@pytest.mark.parametrize(("filter", "expected"), [
    ({">=OPPORTUNITY": 11800}, ["Deal 118", "Deal 119"]),
    ({">OPPORTUNITY": 11800}, ["Deal 119"]),
    ({"<=OPPORTUNITY": 100}, ["Deal 000", "Deal 001"]),
    ({"<OPPORTUNITY": 100}, ["Deal 000"]),
    ({"%TITLE": "eal 11"}, [f"Deal 11{n}" for n in range(10)]),
    ({"=%TITLE": "Deal 10%"}, [f"Deal 10{n}" for n in range(10)]),
    ({"%=TITLE": "%al 119"}, ["Deal 119"]),
    ({"TITLE": "Deal 042"}, ["Deal 042"]),
    ({"=TITLE": "Deal 042"}, ["Deal 042"]),
    ({"TITLE": ["Deal 001", "Deal 002"]}, ["Deal 001", "Deal 002"]),
    ({"%COMMENTS": "VIP", "<OPPORTUNITY": 2000}, ["Deal 000", "Deal 007", "Deal 014"]),
])
def test_positive_filter_prefixes(deals: Simulator, filter: dict[str, Any],
                                  expected: list[str]) -> None:
    assert titles(all_items(deals, filter=filter, select=["TITLE"])) == expected


def test_in_filter_takes_a_list_of_ids(deals: Simulator) -> None:
    wanted = ids_of(deals, "Deal 001", "Deal 003")
    page = deal_list(deals, filter={"@ID": wanted}, select=["TITLE"])
    assert titles(page["result"]) == ["Deal 001", "Deal 003"]


@pytest.mark.parametrize("filter", [{"!TITLE": "Deal 005"}, {"!=TITLE": "Deal 005"}])
def test_not_equal_prefixes(deals: Simulator, filter: dict[str, Any]) -> None:
    names = titles(all_items(deals, filter=filter, select=["TITLE"]))
    assert len(names) == 119 and "Deal 005" not in names


def test_not_in_prefix(deals: Simulator) -> None:
    items = all_items(deals, filter={"!@ASSIGNED_BY_ID": [1, 2]}, select=["ASSIGNED_BY_ID"])
    assert len(items) == 40 and {i["ASSIGNED_BY_ID"] for i in items} == {"3"}


@pytest.mark.parametrize("filter", [{"!%TITLE": "Deal 1"}, {"!=%TITLE": "Deal 1%"},
                                    {"!%=TITLE": "Deal 1%"}])
def test_not_like_prefixes(deals: Simulator, filter: dict[str, Any]) -> None:
    names = titles(all_items(deals, filter=filter, select=["TITLE"]))
    assert len(names) == 100 and not any(n.startswith("Deal 1") for n in names)


def test_boolean_and_date_filters(deals: Simulator) -> None:
    won = deal_list(deals, filter={"CLOSED": "Y"})["total"]
    assert won == 12
    assert deal_list(deals, filter={"CLOSED": "N"})["total"] == 108
    assert deal_list(deals, filter={"CLOSED": 1})["total"] == 12
    newest = deal_list(deals, order={"DATE_CREATE": "DESC"}, select=["DATE_CREATE"])
    cutoff = newest["result"][2]["DATE_CREATE"]  # the third newest deal's creation time
    assert deal_list(deals, filter={">DATE_CREATE": cutoff})["total"] == 2
    assert deal_list(deals, filter={">=DATE_CREATE": cutoff})["total"] == 3


def test_unknown_filter_and_order_fields_are_ignored(deals: Simulator) -> None:
    page = deal_list(deals, filter={"NO_SUCH_FIELD": "x"}, order={"NOPE": "DESC"})
    assert page["total"] == 120


def test_order_by_several_fields_any_case(deals: Simulator) -> None:
    page = deals.call("crm.deal.list", {
        "order": {"assigned_by_id": "desc", "OPPORTUNITY": "asc"}, "select": ["TITLE"]})
    assert titles(page["result"])[:3] == ["Deal 002", "Deal 005", "Deal 008"]
    # User 3's 40 deals come first, then user 2's from the smallest amount.
    assert titles(page["result"])[39:41] == ["Deal 119", "Deal 001"]


def test_select_star_and_unknown_names(deals: Simulator) -> None:
    star = deal_list(deals, select=["*"])["result"][0]
    assert "TITLE" in star and "STAGE_ID" in star and "CONTACT_IDS" not in star
    assert not any(key.startswith("UF_") for key in star)
    only_id = deal_list(deals, select=["NOT_A_FIELD"])["result"][0]
    assert only_id == {"ID": only_id["ID"]}
    assert set(deal_list(deals)["result"][0]) == set(star)


def test_multifields_only_when_named_and_filterable(sim: Simulator) -> None:
    add_people(sim)
    for n in range(3):
        result(sim, "crm.contact.add", {"fields": {
            "NAME": f"Person {n}", "PHONE": [{"VALUE": f"+7900000000{n}", "VALUE_TYPE": "MOBILE"}],
            "EMAIL": [{"VALUE": f"p{n}@example.com", "VALUE_TYPE": "WORK"}]}})
    star = result(sim, "crm.contact.list", {"select": ["*"]})[0]
    assert "PHONE" not in star and "EMAIL" not in star and star["HAS_PHONE"] == "Y"
    named = result(sim, "crm.contact.list", {"select": ["NAME", "PHONE"],
                                             "filter": {"PHONE": "+79000000001"}})
    assert len(named) == 1 and set(named[0]) == {"ID", "NAME", "PHONE"}
    assert named[0]["NAME"] == "Person 1"
    assert named[0]["PHONE"][0]["VALUE"] == "+79000000001"
    assert named[0]["PHONE"][0]["VALUE_TYPE"] == "MOBILE"
    assert named[0]["PHONE"][0]["TYPE_ID"] == "PHONE"
    found = result(sim, "crm.contact.list", {"filter": {"%EMAIL": "p2@"}, "select": ["NAME"]})
    assert [c["NAME"] for c in found] == ["Person 2"]


def test_select_uf_mask(sim: Simulator) -> None:
    add_people(sim)
    result(sim, "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "NOTE",
                                                      "USER_TYPE_ID": "string"}})
    result(sim, "crm.deal.add", {"fields": {"TITLE": "With note", "UF_CRM_NOTE": "hello"}})
    item = result(sim, "crm.deal.list", {"select": ["UF_*"]})[0]
    assert item == {"ID": item["ID"], "UF_CRM_NOTE": "hello"}
    both = result(sim, "crm.deal.list", {"select": ["*", "UF_*"]})[0]
    assert both["UF_CRM_NOTE"] == "hello" and both["TITLE"] == "With note"


def test_helpers_read_portal_spellings() -> None:
    assert [parse_bool(v) for v in ("Y", "n", 1, "0", "true", "FALSE", "maybe")] == \
        [True, False, True, False, True, False, None]
    assert [parse_start(v) for v in (None, "", "50", -1, "-1", "abc")] == [0, 0, 50, -1, -1, 0]
    assert split_key("!=%TITLE") == ("not_like", "TITLE")
    assert split_key(">=ID") == ("ge", "ID")
    assert split_key("TITLE") == ("eq", "TITLE")
    assert resolve_select(["*", "email"], standard=["ID", "TITLE"], userfields=["UF_CRM_X"],
                          multifields=["PHONE", "EMAIL"]) == ["ID", "TITLE", "EMAIL"]


def test_nested_or_groups_in_every_form_a_client_sends(deals: Simulator) -> None:
    """{"0": {"logic": "OR", ...}} as JSON, as a JSON list, and PHP-style over HTTP (where PHP's
    zero-based keys arrive as a list), for crm.item.list and the old crm.deal.list."""
    from simulator.web import create_app

    either = {"logic": "OR", "0": {"=title": "Deal 005"}, "1": {"=title": "Deal 117"}}
    for filter_ in ({"0": either}, [either], {"0": either, ">opportunity": 0}):
        found = deals.call("crm.item.list", {"entityTypeId": 2, "filter": filter_,
                                             "select": ["title"]})["result"]["items"]
        assert sorted(i["title"] for i in found) == ["Deal 005", "Deal 117"], filter_
    # a group whose members come as a list: every member must hold (AND)
    both = deals.call("crm.deal.list", {"filter": {"0": [{"%TITLE": "Deal 11"},
                                                         {">OPPORTUNITY": 11500}]}})
    assert titles(both["result"]) == ["Deal 116", "Deal 117", "Deal 118", "Deal 119"]
    client = create_app(deals).test_client()
    form = ("entityTypeId=2&filter[0][logic]=OR&filter[0][0][%3Dtitle]=Deal%20005"
            "&filter[0][1][%3Dtitle]=Deal%20117&select[0]=title")
    for response in (client.post("/rest/1/testtoken/crm.item.list", data=form,
                                 content_type="application/x-www-form-urlencoded"),
                     client.get("/rest/1/testtoken/crm.item.list?" + form)):
        assert response.status_code == 200, response.get_json()
        found = response.get_json()["result"]["items"]
        assert sorted(i["title"] for i in found) == ["Deal 005", "Deal 117"]
    old = client.get("/rest/1/testtoken/crm.deal.list?filter[0][logic]=OR"
                     "&filter[0][0][TITLE]=Deal%20005&filter[0][1][TITLE]=Deal%20006"
                     "&filter[0][2][TITLE]=Deal%20007&select[]=TITLE")
    assert sorted(titles(old.get_json()["result"])) == ["Deal 005", "Deal 006", "Deal 007"]
    scalars = client.get("/rest/1/testtoken/crm.deal.list?filter[]=x")
    assert (scalars.status_code, scalars.get_json()["error"]) == (400, "INVALID_ARG_VALUE")

"""CRM items through the REST methods, in the shapes a portal client sees."""

from __future__ import annotations

import re
from typing import Any

import pytest

from simulator import Simulator, Veto, db
from simulator.crm import tables as crm_tables
from simulator.crm.ops import build_row
from simulator.crm.userfields import ensure_company_category
from tests.simulator.crm_helpers import (
    add_people,
    captured_events,
    count_rows,
    error_of,
    notifications,
    result,
)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")

# type code -> (fields to add, a field to change and its new value)
SAMPLES: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {
    "lead": ({"TITLE": "Website enquiry", "NAME": "Ivan", "STATUS_ID": "NEW"},
             ("STATUS_ID", "IN_PROCESS")),
    "deal": ({"TITLE": "Pumps for Omsk", "OPPORTUNITY": 15000, "STAGE_ID": "PREPARATION"},
             ("STAGE_ID", "EXECUTING")),
    "contact": ({"NAME": "Olga", "LAST_NAME": "Petrova"}, ("POST", "Buyer")),
    "company": ({"TITLE": "Omsk Pumps"}, ("INDUSTRY", "MANUFACTURING")),
    "quote": ({"TITLE": "Quote for pumps", "OPPORTUNITY": 900.5}, ("STATUS_ID", "SENT")),
}


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    add_people(sim)
    return sim


@pytest.mark.parametrize("code", list(SAMPLES))
def test_old_methods_round_trip(portal: Simulator, code: str) -> None:
    fields, (changed, new_value) = SAMPLES[code]
    item_id = result(portal, f"crm.{code}.add", {"fields": {**fields, "ASSIGNED_BY_ID": 2}},
                     user_id=3)
    assert isinstance(item_id, int)
    item = result(portal, f"crm.{code}.get", {"id": item_id})
    assert item["ID"] == str(item_id)
    assert item["ASSIGNED_BY_ID"] == "2"
    assert item["CREATED_BY_ID"] == "3" and item["MODIFY_BY_ID"] == "3"
    assert ISO.match(item["DATE_CREATE"]) and ISO.match(item["DATE_MODIFY"])
    for key, value in fields.items():
        if key == "OPPORTUNITY":
            assert item[key] == f"{value:.2f}"
        else:
            assert item[key] == value
    assert result(portal, f"crm.{code}.update", {"ID": item_id, "FIELDS": {changed: new_value}},
                  user_id=1) is True
    item = result(portal, f"crm.{code}.get", {"ID": item_id})
    assert item[changed] == new_value and item["MODIFY_BY_ID"] == "1"
    listed = result(portal, f"crm.{code}.list", {"filter": {"ID": item_id}})
    assert [i["ID"] for i in listed] == [str(item_id)]
    assert result(portal, f"crm.{code}.delete", {"id": item_id}) is True
    missing = error_of(portal, f"crm.{code}.get", {"id": item_id})
    assert (missing.code, missing.description, missing.status) == ("", "Not found", 400)


def test_deal_values_use_the_old_api_spelling(portal: Simulator) -> None:
    company = result(portal, "crm.company.add", {"fields": {"TITLE": "Acme"}})
    deal_id = result(portal, "crm.deal.add", {"fields": {
        "TITLE": "Big one", "OPPORTUNITY": "15000", "COMPANY_ID": company,
        "CLOSEDATE": "2026-05-01"}})
    deal = result(portal, "crm.deal.get", {"id": deal_id})
    assert deal["OPPORTUNITY"] == "15000.00" and deal["COMPANY_ID"] == str(company)
    assert deal["CATEGORY_ID"] == "0" and deal["STAGE_ID"] == "NEW" and deal["CLOSED"] == "N"
    assert deal["CLOSEDATE"].startswith("2026-05-01T00:00:00")
    result(portal, "crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": "WON"}})
    deal = result(portal, "crm.deal.get", {"id": deal_id})
    assert deal["CLOSED"] == "Y" and deal["STAGE_SEMANTIC_ID"] == "S"


def test_default_titles_follow_the_portal(portal: Simulator) -> None:
    lead = result(portal, "crm.lead.add", {"fields": {"NAME": "Ivan"}})
    deal = result(portal, "crm.deal.add", {"fields": {}})
    assert result(portal, "crm.lead.get", {"id": lead})["TITLE"] == f"Lead #{lead}"
    assert result(portal, "crm.deal.get", {"id": deal})["TITLE"] == f"Deal #{deal}"


@pytest.mark.parametrize(("method", "params", "description"), [
    ("crm.deal.get", {}, "ID is not defined or invalid"),
    ("crm.deal.get", {"id": "abc"}, "ID is not defined or invalid"),
    ("crm.deal.update", {"id": 0, "fields": {"TITLE": "x"}}, "ID is not defined or invalid"),
    ("crm.deal.delete", {"id": 987654}, "Not found"),
    ("crm.deal.update", {"id": 987654, "fields": {"TITLE": "x"}}, "Not found"),
])
def test_missing_or_unknown_ids(portal: Simulator, method: str, params: dict[str, Any],
                                description: str) -> None:
    error = error_of(portal, method, params)
    assert (error.code, error.description, error.status) == ("", description, 400)


@pytest.mark.parametrize(("code", "fields", "field"), [
    ("deal", {"TITLE": "x", "ASSIGNED_BY_ID": 77}, "ASSIGNED_BY_ID"),
    ("deal", {"TITLE": "x", "OPPORTUNITY": "a lot"}, "OPPORTUNITY"),
    ("deal", {"TITLE": "x", "STAGE_ID": "NOT_A_STAGE"}, "STAGE_ID"),
    ("deal", {"TITLE": "x", "COMPANY_ID": 987654}, "COMPANY_ID"),
    ("deal", {"TITLE": "x", "CLOSEDATE": "someday"}, "CLOSEDATE"),
    ("company", {"COMMENTS": "no title"}, "TITLE"),
    ("contact", {"POST": "no name"}, "NAME"),
    ("contact", {"NAME": "x", "PHONE": [{"VALUE": "1", "VALUE_TYPE": "SATELLITE"}]}, "PHONE"),
])
def test_bad_input_names_the_field_and_changes_nothing(portal: Simulator, code: str,
                                                       fields: dict[str, Any],
                                                       field: str) -> None:
    with captured_events(portal) as events:
        error = error_of(portal, f"crm.{code}.add", {"fields": fields})
    assert error.code == "" and error.status == 400 and field in error.description
    assert count_rows(portal, crm_tables.crm_items) == 0 and events == []


def test_bad_update_leaves_the_item_as_it_was(portal: Simulator) -> None:
    deal_id = result(portal, "crm.deal.add", {"fields": {"TITLE": "Steady", "OPPORTUNITY": 5}})
    before = result(portal, "crm.deal.get", {"id": deal_id})
    error = error_of(portal, "crm.deal.update", {"id": deal_id, "fields": {
        "TITLE": "Changed", "ASSIGNED_BY_ID": 999}})
    assert "ASSIGNED_BY_ID" in error.description
    assert result(portal, "crm.deal.get", {"id": deal_id}) == before


def test_a_dismissed_user_can_still_be_made_responsible(portal: Simulator) -> None:
    deal_id = result(portal, "crm.deal.add", {"fields": {"TITLE": "Old", "ASSIGNED_BY_ID": 4}})
    assert result(portal, "crm.deal.get", {"id": deal_id})["ASSIGNED_BY_ID"] == "4"
    assert notifications(portal, 4) == []  # nothing is delivered to a dismissed user


# -- crm.item ----------------------------------------------------------------------------------
def test_crm_item_and_old_methods_share_rows(portal: Simulator) -> None:
    item = result(portal, "crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Via item", "opportunity": 250, "assignedById": 2, "stageId": "PREPARATION"}})
    item = item["item"]
    assert item["id"] > 0 and item["assignedById"] == 2 and item["opportunity"] == 250.0
    assert item["createdBy"] == 1 and item["updatedBy"] == 1 and ISO.match(item["createdTime"])
    old = result(portal, "crm.deal.get", {"id": item["id"]})
    assert old["TITLE"] == "Via item" and old["OPPORTUNITY"] == "250.00"
    assert old["ASSIGNED_BY_ID"] == "2" and old["STAGE_ID"] == "PREPARATION"
    result(portal, "crm.deal.update", {"id": item["id"], "fields": {"TITLE": "Renamed"}})
    again = result(portal, "crm.item.get", {"entityTypeId": 2, "id": item["id"]})["item"]
    assert again["title"] == "Renamed" and again["stageId"] == "PREPARATION"


def test_smart_invoice_lives_in_crm_item_only(portal: Simulator) -> None:
    deal_id = result(portal, "crm.deal.add", {"fields": {"TITLE": "Parent"}})
    with captured_events(portal) as events:
        added = result(portal, "crm.item.add", {"entityTypeId": 31, "fields": {
            "title": "Invoice for pumps", "opportunity": 1200, "parentId2": deal_id,
            "assignedById": 3}})["item"]
    assert added["entityTypeId"] == 31 and added["stageId"] == "DT31_1:N"
    assert added["categoryId"] == 1 and added["parentId2"] == deal_id and added["closed"] == "N"
    names = [e.name for e in events if e.entity_type == "SMART_INVOICE"]
    assert names == ["ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMADD_31"]
    assert events[0].data == {"FIELDS": {"ID": added["id"], "ENTITY_TYPE_ID": 31}}
    assert events[0].after["title"] == "Invoice for pumps"
    updated = result(portal, "crm.item.update", {"entityTypeId": 31, "id": added["id"],
                                                 "fields": {"stageId": "DT31_1:P"}})["item"]
    assert updated["closed"] == "Y"
    page = portal.call("crm.item.list", {"entityTypeId": 31, "filter": {"closed": "Y"},
                                         "select": ["id", "title"]})
    assert page["result"] == {"items": [{"id": added["id"], "title": "Invoice for pumps",
                                         "entityTypeId": 31}]}
    assert page["total"] == 1
    assert result(portal, "crm.item.delete", {"entityTypeId": 31, "id": added["id"]}) == []
    gone = error_of(portal, "crm.item.get", {"entityTypeId": 31, "id": added["id"]})
    assert (gone.code, gone.description, gone.status) == ("NOT_FOUND", "Item not found", 400)


@pytest.mark.parametrize("type_id", [1, 2, 3, 4, 7, 31])
def test_crm_item_round_trip_for_every_type(portal: Simulator, type_id: int) -> None:
    fields = {"title": "T", "name": "N", "assignedById": 2}
    item = result(portal, "crm.item.add", {"entityTypeId": type_id, "fields": fields})["item"]
    assert item["assignedById"] == 2
    result(portal, "crm.item.update", {"entityTypeId": type_id, "id": item["id"],
                                       "fields": {"assignedById": 3}})
    got = result(portal, "crm.item.get", {"entityTypeId": type_id, "id": item["id"]})["item"]
    assert got["assignedById"] == 3 and got["updatedBy"] == 1
    page = portal.call("crm.item.list", {"entityTypeId": type_id, "filter": {"assignedById": 3}})
    assert [i["id"] for i in page["result"]["items"]] == [item["id"]]


def test_crm_item_errors(portal: Simulator) -> None:
    unsupported = error_of(portal, "crm.item.list", {"entityTypeId": 5})
    assert unsupported.code == "ENTITY_TYPE_NOT_SUPPORTED"
    assert error_of(portal, "crm.item.get", {"entityTypeId": 1234, "id": 1}).code == "NOT_FOUND"
    missing = error_of(portal, "crm.item.update", {"entityTypeId": 2, "id": 99, "fields": {}})
    assert (missing.code, missing.description) == ("NOT_FOUND", "Item not found")
    bad = error_of(portal, "crm.item.add", {"entityTypeId": 2, "fields": {"opportunity": "x"}})
    assert bad.code == "CRM_FIELD_ERROR_VALUE_NOT_VALID" and "opportunity" in bad.description
    assert count_rows(portal, crm_tables.crm_items) == 0


# -- user fields -------------------------------------------------------------------------------
def test_userfield_names_get_the_crm_prefix(portal: Simulator) -> None:
    first = result(portal, "crm.lead.userfield.add", {"fields": {"FIELD_NAME": "MANAGER_NOTE"}})
    got = result(portal, "crm.lead.userfield.get", {"id": first})
    assert got["FIELD_NAME"] == "UF_CRM_MANAGER_NOTE" and got["USER_TYPE_ID"] == "string"
    duplicate = error_of(portal, "crm.lead.userfield.add",
                         {"fields": {"FIELD_NAME": "UF_MANAGER_NOTE"}})
    assert "UF_CRM_MANAGER_NOTE" in duplicate.description
    kept = result(portal, "crm.lead.userfield.add", {"fields": {"FIELD_NAME": "UF_CRM_SCORE",
                                                                "USER_TYPE_ID": "integer"}})
    names = [f["FIELD_NAME"] for f in result(portal, "crm.lead.userfield.list")]
    assert names == ["UF_CRM_MANAGER_NOTE", "UF_CRM_SCORE"] and kept > first
    bad_type = error_of(portal, "crm.lead.userfield.add", {"fields": {
        "FIELD_NAME": "X", "USER_TYPE_ID": "hologram"}})
    assert "USER_TYPE_ID" in bad_type.description
    assert result(portal, "crm.deal.userfield.list") == []  # per entity


def add_company_category(sim: Simulator) -> dict[str, str]:
    result(sim, "crm.company.userfield.add", {"fields": {
        "FIELD_NAME": "CATEGORY", "USER_TYPE_ID": "enumeration", "EDIT_FORM_LABEL": "Category",
        "LIST": [{"VALUE": "A"}, {"VALUE": "B"}, {"VALUE": "C"}]}})
    described = result(sim, "crm.company.fields")["UF_CRM_CATEGORY"]
    assert described["type"] == "enumeration" and described["listLabel"] == "Category"
    return {item["VALUE"]: item["ID"] for item in described["items"]}


def test_company_category_enumeration_in_add_filter_select(portal: Simulator) -> None:
    ids = add_company_category(portal)
    assert set(ids) == {"A", "B", "C"}
    for title, category in (("Alpha", "A"), ("Beta", "B"), ("Gamma", "A")):
        result(portal, "crm.company.add", {"fields": {"TITLE": title,
                                                      "UF_CRM_CATEGORY": ids[category]}})
    a_list = result(portal, "crm.company.list", {"filter": {"UF_CRM_CATEGORY": ids["A"]},
                                                 "select": ["TITLE", "UF_CRM_CATEGORY"]})
    assert [(c["TITLE"], c["UF_CRM_CATEGORY"]) for c in a_list] == \
        [("Alpha", ids["A"]), ("Gamma", ids["A"])]
    items = result(portal, "crm.item.list", {"entityTypeId": 4, "select": ["title",
                                                                           "ufCrmCategory"],
                                             "filter": {"ufCrmCategory": int(ids["B"])}})
    assert items["items"] == [{"id": items["items"][0]["id"], "title": "Beta",
                               "ufCrmCategory": int(ids["B"]), "entityTypeId": 4}]
    original = result(portal, "crm.item.get", {"entityTypeId": 4, "id": items["items"][0]["id"],
                                               "useOriginalUfNames": "Y"})["item"]
    assert original["UF_CRM_CATEGORY"] == int(ids["B"]) and "ufCrmCategory" not in original
    wrong = error_of(portal, "crm.company.add", {"fields": {"TITLE": "Bad",
                                                            "UF_CRM_CATEGORY": "999"}})
    assert "UF_CRM_CATEGORY" in wrong.description
    assert len(result(portal, "crm.company.list")) == 3


def test_userfield_types_convert_and_filter(portal: Simulator) -> None:
    for name, kind in (("SCORE", "integer"), ("VIP", "boolean"), ("MET", "date"),
                       ("HELPERS", "employee")):
        multiple = "Y" if name == "HELPERS" else "N"
        result(portal, "crm.deal.userfield.add", {"fields": {
            "FIELD_NAME": name, "USER_TYPE_ID": kind, "MULTIPLE": multiple}})
    deal = result(portal, "crm.deal.add", {"fields": {
        "TITLE": "Typed", "UF_CRM_SCORE": "42", "UF_CRM_VIP": "Y", "UF_CRM_MET": "2026-03-02",
        "UF_CRM_HELPERS": [2, 3]}})
    result(portal, "crm.deal.add", {"fields": {"TITLE": "Plain", "UF_CRM_SCORE": 7}})
    got = result(portal, "crm.deal.get", {"id": deal})
    assert got["UF_CRM_SCORE"] == "42" and got["UF_CRM_VIP"] == "1"
    assert got["UF_CRM_MET"].startswith("2026-03-02T00:00:00")
    assert got["UF_CRM_HELPERS"] == ["2", "3"]
    assert [d["TITLE"] for d in result(portal, "crm.deal.list", {
        "filter": {">UF_CRM_SCORE": 10}})] == ["Typed"]
    assert [d["TITLE"] for d in result(portal, "crm.deal.list", {
        "filter": {"UF_CRM_VIP": 1}})] == ["Typed"]
    assert [d["TITLE"] for d in result(portal, "crm.deal.list", {
        "filter": {"UF_CRM_HELPERS": 3}})] == ["Typed"]
    assert [d["TITLE"] for d in result(portal, "crm.deal.list", {
        "filter": {"<UF_CRM_MET": "2026-03-03"}})] == ["Typed"]
    by_score = result(portal, "crm.deal.list", {"order": {"UF_CRM_SCORE": "DESC"}})
    assert [d["TITLE"] for d in by_score] == ["Typed", "Plain"]
    item = result(portal, "crm.item.get", {"entityTypeId": 2, "id": deal})["item"]
    assert item["ufCrmScore"] == 42 and item["ufCrmVip"] == "Y" and item["ufCrmHelpers"] == [2, 3]
    bad = error_of(portal, "crm.deal.add", {"fields": {"TITLE": "x", "UF_CRM_SCORE": "many"}})
    assert "UF_CRM_SCORE" in bad.description


def test_company_category_helper_for_seeds(portal: Simulator) -> None:
    with portal.transaction() as ctx:
        category = ensure_company_category(ctx.conn)
        assert ensure_company_category(ctx.conn).id == category.id
        a_id = category.item_id("A")
        assert a_id is not None and category.item_value(a_id) == "A"
        ctx.conn.execute(crm_tables.crm_items.insert(), [
            build_row(ctx, 4, {"TITLE": "Seeded", "UF_CRM_CATEGORY": a_id,
                               "ASSIGNED_BY_ID": 2})])
    seeded = result(portal, "crm.company.list", {"select": ["TITLE", "UF_CRM_CATEGORY",
                                                            "CREATED_BY_ID"]})
    assert seeded == [{"ID": seeded[0]["ID"], "TITLE": "Seeded", "UF_CRM_CATEGORY": a_id,
                       "CREATED_BY_ID": "1"}]
    assert notifications(portal) == []  # bulk rows announce nothing


def test_dates_stored_as_bare_days_read_and_filter_like_full_ones(portal: Simulator) -> None:
    with portal.transaction() as ctx:
        rows = [build_row(ctx, 2, {"TITLE": t}) for t in ("Bare", "Full")]
        rows[0]["fields"]["CLOSEDATE"] = "2026-08-03"  # as a seed may write it
        rows[1]["fields"]["CLOSEDATE"] = "2026-08-04T00:00:00+03:00"
        ctx.conn.execute(crm_tables.crm_items.insert(), rows)
    listed = result(portal, "crm.deal.list", {"filter": {">=CLOSEDATE": "2026-08-03"},
                                              "order": {"CLOSEDATE": "ASC"},
                                              "select": ["TITLE", "CLOSEDATE"]})
    assert [(d["TITLE"], d["CLOSEDATE"][:19]) for d in listed] == [
        ("Bare", "2026-08-03T00:00:00"), ("Full", "2026-08-04T00:00:00")]
    assert [d["TITLE"] for d in result(portal, "crm.deal.list", {
        "filter": {"<CLOSEDATE": "2026-08-04"}})] == ["Bare"]


def test_contact_id_is_the_first_of_contact_ids(portal: Simulator) -> None:
    first, second = (result(portal, "crm.contact.add", {"fields": {"NAME": n}})
                     for n in ("First", "Second"))
    deal_id = result(portal, "crm.deal.add", {"fields": {"CONTACT_IDS": [first, second]}})
    deal = result(portal, "crm.deal.get", {"id": deal_id})
    assert deal["CONTACT_ID"] == str(first) and deal["CONTACT_IDS"] == [str(first), str(second)]
    item = result(portal, "crm.item.get", {"entityTypeId": 2, "id": deal_id})["item"]
    assert item["contactId"] == first and item["contactIds"] == [first, second]
    assert [d["ID"] for d in result(portal, "crm.deal.list", {
        "filter": {"CONTACT_IDS": second}})] == [str(deal_id)]


def test_fields_describe_standard_and_user_fields(portal: Simulator) -> None:
    add_company_category(portal)
    fields = result(portal, "crm.company.fields")
    assert fields["ID"] == {"type": "integer", "isRequired": False, "isReadOnly": True,
                            "isImmutable": False, "isMultiple": False, "isDynamic": False,
                            "title": "ID"}
    assert fields["TITLE"]["isRequired"] is True and fields["PHONE"]["isMultiple"] is True
    assert fields["UF_CRM_CATEGORY"]["isDynamic"] is True
    item_fields = result(portal, "crm.item.fields", {"entityTypeId": 4})["fields"]
    assert item_fields["assignedById"]["upperName"] == "ASSIGNED_BY_ID"
    assert item_fields["ufCrmCategory"]["upperName"] == "UF_CRM_CATEGORY"


# -- events, vetoes, notices -------------------------------------------------------------------
def test_after_events_carry_the_item_before_and_after(portal: Simulator) -> None:
    with captured_events(portal) as events:
        deal_id = result(portal, "crm.deal.add", {"fields": {"TITLE": "Draft"}})
        result(portal, "crm.deal.update", {"id": deal_id, "fields": {"TITLE": "Final"}})
        result(portal, "crm.deal.delete", {"id": deal_id})
    crm = [e for e in events if e.entity_type == "DEAL"]
    assert [e.name for e in crm] == ["ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE"]
    added, updated, deleted = crm
    assert added.before is None and added.after["TITLE"] == "Draft"
    assert added.data == {"FIELDS": {"ID": str(deal_id)}} and added.entity_id == deal_id
    assert updated.before["TITLE"] == "Draft" and updated.after["TITLE"] == "Final"
    assert deleted.before["TITLE"] == "Final" and deleted.after is None


def test_an_update_that_changes_nothing_publishes_nothing(portal: Simulator) -> None:
    deal_id = result(portal, "crm.deal.add", {"fields": {
        "TITLE": "Pumps", "OPPORTUNITY": 1500, "ASSIGNED_BY_ID": 2}})
    contact_id = result(portal, "crm.contact.add", {"fields": {
        "NAME": "Olga", "PHONE": [{"VALUE": "+79001234567", "VALUE_TYPE": "WORK"}]}})
    before = result(portal, "crm.deal.get", {"id": deal_id})
    contact = result(portal, "crm.contact.get", {"id": contact_id})
    portal.clock.set(portal.clock.now())
    portal.clock.advance(3600)  # a written change would show a later DATE_MODIFY
    seen: list[Any] = []
    portal.bus.subscribe_before(seen.append)
    with captured_events(portal) as events:
        assert result(portal, "crm.deal.update", {"id": deal_id, "fields": {
            "TITLE": "Pumps", "OPPORTUNITY": "1500.00", "ASSIGNED_BY_ID": "2"}},
            user_id=2) is True
        assert result(portal, "crm.contact.update", {"id": contact_id, "fields": {
            "NAME": "Olga", "PHONE": [{"ID": contact["PHONE"][0]["ID"],
                                       "VALUE": "+79001234567"}]}}) is True
        same = result(portal, "crm.item.update", {"entityTypeId": 2, "id": deal_id,
                                                  "fields": {"title": "Pumps"}})
        assert same["item"]["title"] == "Pumps"
    assert (seen, events) == ([], [])
    assert result(portal, "crm.deal.get", {"id": deal_id}) == before  # DATE_MODIFY too
    assert result(portal, "crm.contact.get", {"id": contact_id}) == contact
    with captured_events(portal) as events:
        result(portal, "crm.deal.update", {"id": deal_id, "fields": {"OPPORTUNITY": 1600}})
    assert [e.name for e in events] == ["ONCRMDEALUPDATE"]
    assert [e.name for e in seen] == ["ONBEFORECRMDEALUPDATE"]
    assert result(portal, "crm.deal.get", {"id": deal_id})["DATE_MODIFY"] != \
        before["DATE_MODIFY"]


@pytest.mark.parametrize("action", ["ADD", "UPDATE", "DELETE"])
def test_before_event_veto_changes_nothing(portal: Simulator, action: str) -> None:
    deal_id = result(portal, "crm.deal.add", {"fields": {"TITLE": "Key client deal"}})
    before = result(portal, "crm.deal.get", {"id": deal_id})
    seen: list[Any] = []

    def refuse(event: Any) -> None:
        seen.append(event)
        if event.name == f"ONBEFORECRMDEAL{action}":
            raise Veto("Deals of key clients are frozen")

    portal.bus.subscribe_before(refuse)
    calls = {"ADD": ("crm.deal.add", {"fields": {"TITLE": "Another"}}),
             "UPDATE": ("crm.deal.update", {"id": deal_id, "fields": {"TITLE": "Changed"}}),
             "DELETE": ("crm.deal.delete", {"id": deal_id})}
    with captured_events(portal) as events:
        error = error_of(portal, *calls[action])
    assert (error.code, error.description) == ("", "Deals of key clients are frozen")
    assert events == []
    assert result(portal, "crm.deal.list") == [
        {k: v for k, v in before.items() if k != "CONTACT_IDS"}]
    vetoed = seen[-1]
    if action == "UPDATE":
        assert vetoed.before["TITLE"] == "Key client deal" and vetoed.after["TITLE"] == "Changed"


def test_crm_item_veto_uses_a_core_error(portal: Simulator) -> None:
    def refuse(event: Any) -> None:
        raise Veto("Not now")

    portal.bus.subscribe_before(refuse)
    error = error_of(portal, "crm.item.add", {"entityTypeId": 31, "fields": {"title": "x"}})
    assert (error.code, error.description) == ("ERROR_CORE", "Not now")
    assert count_rows(portal, crm_tables.crm_items) == 0


def test_new_responsible_person_gets_a_notice(portal: Simulator) -> None:
    deal_id = result(portal, "crm.deal.add", {"fields": {"TITLE": "Pumps", "ASSIGNED_BY_ID": 2}})
    inbox = notifications(portal, 2)
    assert len(inbox) == 1
    notice = inbox[0]
    assert (notice.kind, notice.entity_type, notice.entity_id) == ("crm_assigned", "DEAL",
                                                                   deal_id)
    assert notice.from_user_id == 1
    assert notice.message == ('You have been made responsible for the deal '
                              f'"[URL=/crm/deal/details/{deal_id}/]Pumps[/URL]"')
    result(portal, "crm.deal.update", {"id": deal_id, "fields": {"TITLE": "Pumps 2"}})
    assert [n.id for n in notifications(portal, 2)] == [notice.id]  # same responsible: quiet
    result(portal, "crm.deal.update", {"id": deal_id, "fields": {"ASSIGNED_BY_ID": 3}})
    assert [n.kind for n in notifications(portal, 3)] == ["crm_assigned"]
    assert "Pumps 2" in notifications(portal, 3)[0].message


def test_no_notice_for_taking_an_item_yourself_or_a_dismissed_user(portal: Simulator) -> None:
    result(portal, "crm.contact.add", {"fields": {"NAME": "Own", "ASSIGNED_BY_ID": 2}},
           user_id=2)
    result(portal, "crm.company.add", {"fields": {"TITLE": "Gone", "ASSIGNED_BY_ID": 4}})
    assert notifications(portal) == []


def test_a_deleted_items_id_is_never_given_to_a_new_one(portal: Simulator) -> None:
    lead = result(portal, "crm.lead.add", {"fields": {"TITLE": "Short-lived"}})
    assert result(portal, "crm.lead.delete", {"id": lead}) is True
    deal = result(portal, "crm.deal.add", {"fields": {"TITLE": "Next one"}})
    assert deal > lead
    assert error_of(portal, "crm.lead.get", {"id": lead}).description == "Not found"
    assert result(portal, "crm.deal.get", {"id": deal})["TITLE"] == "Next one"


def test_an_old_sqlite_portal_stops_reusing_ids_once_reset(tmp_path: Any) -> None:
    """A database created before ids were AUTOINCREMENT keeps its tables until a reset."""
    from sqlalchemy import MetaData, create_engine

    url = f"sqlite:///{tmp_path / 'old-portal.db'}"
    old_schema = MetaData()
    for table in db.metadata.sorted_tables:
        table.to_metadata(old_schema).dialect_options["sqlite"]["autoincrement"] = False
    engine = create_engine(url)
    old_schema.create_all(engine)
    engine.dispose()
    old = Simulator(url, webhook_token="testtoken")
    try:
        with old.engine.connect() as conn:
            assert db.reused_id_tables(conn)  # the old tables are still there
        lead = result(old, "crm.lead.add", {"fields": {"TITLE": "Lead"}})
        result(old, "crm.lead.delete", {"id": lead})
        assert result(old, "crm.deal.add", {"fields": {"TITLE": "Deal"}}) == lead  # reused
        old.reset()
        with old.engine.connect() as conn:
            assert db.reused_id_tables(conn) == []
        lead = result(old, "crm.lead.add", {"fields": {"TITLE": "Lead"}})
        result(old, "crm.lead.delete", {"id": lead})
        assert result(old, "crm.deal.add", {"fields": {"TITLE": "Deal"}}) > lead
        assert old.settings.get("webhook_token") == "testtoken"  # a reset keeps the identity
    finally:
        old.engine.dispose()


def test_deals_go_only_into_pipelines_the_portal_has(portal: Simulator) -> None:
    categories = result(portal, "crm.category.list", {"entityTypeId": 2})["categories"]
    assert categories == [{"id": 0, "name": "General", "sort": 100, "entityTypeId": 2,
                           "isDefault": "Y"}]
    before = count_rows(portal, crm_tables.crm_items)
    refused = error_of(portal, "crm.deal.add", {"fields": {"TITLE": "X", "CATEGORY_ID": 1}})
    assert (refused.code, refused.description) == (
        "", "The field CATEGORY_ID is not defined or invalid")
    item_refused = error_of(portal, "crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "X", "categoryId": 7}})
    assert (item_refused.code, item_refused.description) == (
        "CRM_FIELD_ERROR_VALUE_NOT_VALID", 'Invalid value of the field "categoryId"')
    assert count_rows(portal, crm_tables.crm_items) == before  # nothing written
    portal.settings.set("deal_categories", [{"id": 0, "name": "Equipment"},
                                            {"id": 3, "name": "Containers", "sort": 50}])
    listed = result(portal, "crm.category.list", {"entityTypeId": 2})["categories"]
    assert [(c["id"], c["name"], c["isDefault"]) for c in listed] == [
        (3, "Containers", "N"), (0, "Equipment", "Y")]  # by sort
    deal = result(portal, "crm.deal.add", {"fields": {"TITLE": "Lift", "CATEGORY_ID": 3}})
    got = result(portal, "crm.deal.get", {"id": deal})
    assert (got["CATEGORY_ID"], got["STAGE_ID"]) == ("3", "C3:NEW")
    assert error_of(portal, "crm.category.list", {"entityTypeId": 1}).code == \
        "ENTITY_TYPE_NOT_SUPPORTED"
    assert error_of(portal, "crm.category.list", {}).description == \
        "Could not find value for parameter {entityTypeId}"

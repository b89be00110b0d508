"""The contact cadence end to end against the simulated portal: settings over the API, the
hand-built cases of the acceptance list after a full resync, events keeping the rows, the
report's filters, CSV and visibility per role."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal_ext.cadence.models import CadenceSettings
from portal_ext.extensions import db
from simulator import Simulator
from tests.ext.absences_support import ADMIN, NIKITINA, TORG_HEAD, token

pytestmark = pytest.mark.dated

CATEGORY = {"A": "1", "B": "2", "C": "3"}  # the demo's UF_CRM_CATEGORY item ids


def iso(moment: datetime) -> str:
    return moment.isoformat() + "+00:00"


def add(sim: Simulator, entity: str, fields: dict[str, Any]) -> int:
    return int(sim.call(f"crm.{entity}.add", {"fields": fields})["result"])


def company(sim: Simulator, title: str, category: str | None, who: int = NIKITINA) -> int:
    fields: dict[str, Any] = {"TITLE": title, "ASSIGNED_BY_ID": who}
    if category:
        fields["UF_CRM_CATEGORY"] = CATEGORY[category]
    return add(sim, "company", fields)


def activity(sim: Simulator, owner: tuple[int, int], *, type_id: int = 2, direction: int = 2,
             completed: str = "Y", at: datetime, settings: dict[str, Any] | None = None,
             who: int = NIKITINA) -> int:
    kind = "PHONE" if type_id == 2 else "EMAIL"
    value = "+79990000000" if type_id == 2 else "client@example.com"
    return add(sim, "activity", {
        "OWNER_TYPE_ID": owner[0], "OWNER_ID": owner[1], "TYPE_ID": type_id,
        "SUBJECT": "Contact", "RESPONSIBLE_ID": who, "DIRECTION": direction,
        "COMPLETED": completed, "START_TIME": iso(at - timedelta(minutes=5)),
        "END_TIME": iso(at), "SETTINGS": settings or {},
        "COMMUNICATIONS": [{"VALUE": value, "TYPE": kind, "ENTITY_TYPE_ID": owner[0],
                            "ENTITY_ID": owner[1]}]})


def put_settings(client: FlaskClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.put("/api/v1/cadence/settings", json=body, headers=headers)


def report(client: FlaskClient, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    answer = client.get("/api/v1/cadence/report", headers=headers,
                        query_string={"per_page": 100, **query})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def row(client: FlaskClient, headers: dict[str, str], title: str) -> dict[str, Any]:
    items = report(client, headers, q=title)["items"]
    assert len(items) == 1, items
    return items[0]


@pytest.fixture
def configured(app: Flask, client: FlaskClient, admin: dict[str, str]) -> dict[str, str]:
    answer = put_settings(client, admin, {"category_field": "UF_CRM_CATEGORY"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["category_map"] == {"1": "A", "2": "B", "3": "C"}
    return admin


def test_bad_settings_are_refused_naming_the_field_and_change_nothing(
        app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    before = client.get("/api/v1/cadence/settings", headers=admin).get_json()
    assert before["intervals"]["A"] == {"count": 14, "unit": "day", "warning_days": 3}
    assert before["intervals"]["B"]["unit"] == "month"
    for body, field in (({"category_field": "UF_CRM_NO_SUCH"}, "category_field"),
                        ({"intervals": {"A": {"count": -3}}}, "intervals.A.count"),
                        ({"intervals": {"B": {"warning_days": -1}}}, "intervals.B.warning_days"),
                        ({"intervals": {"D": {"count": 3}}}, "intervals.D"),
                        ({"contact": {"email_direction": "sideways"}},
                         "contact.email_direction")):
        answer = put_settings(client, admin, body)
        assert answer.status_code == 422, body
        assert answer.get_json()["error"]["field"] == field
    assert client.get("/api/v1/cadence/settings", headers=admin).get_json() == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CadenceSettings)) == 0


def test_settings_are_for_administrators(app: Flask, client: FlaskClient) -> None:
    answer = client.get("/api/v1/cadence/settings", headers=token(app, NIKITINA))
    assert answer.status_code == 403


def test_the_default_field_is_created_with_items_a_b_c(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    answer = put_settings(client, admin, {"intervals": {"A": {"count": 10}}})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["category_field"] == "UF_CRM_CLIENT_CATEGORY"
    assert sorted(body["category_map"].values()) == ["A", "B", "C"]
    assert body["intervals"]["A"]["count"] == 10
    fields = demo_sim.call("crm.company.fields", {})["result"]
    items = fields["UF_CRM_CLIENT_CATEGORY"]["items"]
    assert {i["ID"]: i["VALUE"] for i in items} == {k: v for k, v in body["category_map"].items()}


def test_the_hand_built_cases(app: Flask, client: FlaskClient, configured: dict[str, str],
                              demo_sim: Simulator, t0: datetime) -> None:
    sim, admin = demo_sim, configured
    recent = t0 - timedelta(days=2)
    deal_only = company(sim, "Cadence deal-only", "A")
    deal = add(sim, "deal", {"TITLE": "Deal", "COMPANY_ID": deal_only, "ASSIGNED_BY_ID": NIKITINA})
    activity(sim, (2, deal), at=recent)
    missed = company(sim, "Cadence missed-only", "A")
    activity(sim, (4, missed), direction=1, at=recent, settings={"MISSED_CALL": True})
    planned = company(sim, "Cadence planned-only", "A")
    activity(sim, (4, planned), completed="N", at=recent + timedelta(days=1))
    failed = company(sim, "Cadence failed-out", "A")
    activity(sim, (4, failed), at=recent, settings={"CALL_FAILED_CODE": "486"})
    mailed = company(sim, "Cadence mailed-contact", "B")
    person = add(sim, "contact", {"NAME": "Ivan", "LAST_NAME": "Cadence", "COMPANY_ID": mailed,
                                  "ASSIGNED_BY_ID": NIKITINA})
    activity(sim, (3, person), type_id=4, direction=1, completed="N", at=recent)
    # The demo's list field is mandatory: "no category" is an item mapped to no category.
    nocat = company(sim, "Cadence no-category", "C")
    answer = put_settings(client, admin, {"category_map": {"1": "A", "2": "B"}})
    assert answer.status_code == 200, answer.get_data(as_text=True)

    answer = client.post("/api/v1/cadence/resync", headers=admin, json={})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["state"] == "done" and answer.get_json()["percent"] == 100

    got = row(client, admin, "Cadence deal-only")
    assert got["last_call_at"] is not None and got["state"] in ("ok", "warning")
    assert got["last_contact"]["bound_to"] == f"deal:{deal}"
    assert got["last_contact"]["channel"] == "call" and got["company_id"] == deal_only
    for title in ("Cadence missed-only", "Cadence planned-only", "Cadence failed-out"):
        assert row(client, admin, title)["last_call_at"] is None, title
    mail = row(client, admin, "Cadence mailed-contact")
    assert mail["last_email_at"] is not None and mail["last_contact"]["direction"] == "in"
    assert mail["last_contact"]["bound_to"] == f"contact:{person}"
    none = row(client, admin, "Cadence no-category")
    assert (none["state"], none["category"], none["due_at"]) == ("no_category", None, None)
    assert none["company_id"] == nocat
    assert missed and planned and failed

    # Events keep the rows: a completed call on the missed-only company, a category change.
    activity(sim, (4, missed), at=t0 - timedelta(days=1))
    assert row(client, admin, "Cadence missed-only")["last_call_at"] is not None
    before = row(client, admin, "Cadence mailed-contact")["due_at"]
    sim.call("crm.company.update", {"id": mailed, "fields": {"UF_CRM_CATEGORY": CATEGORY["A"]}})
    after = row(client, admin, "Cadence mailed-contact")
    assert after["category"] == "A" and after["due_at"] < before


def test_a_call_bound_to_a_new_deal_counts_at_once(
        app: Flask, client: FlaskClient, configured: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    admin = configured
    assert client.post("/api/v1/cadence/resync", headers=admin).status_code == 200
    target = company(demo_sim, "Cadence fresh-deal", "A")
    deal = add(demo_sim, "deal", {"TITLE": "Fresh", "COMPANY_ID": target,
                                  "ASSIGNED_BY_ID": NIKITINA})
    activity(demo_sim, (2, deal), at=t0 - timedelta(hours=3))
    got = row(client, admin, "Cadence fresh-deal")
    assert got["last_contact"]["bound_to"] == f"deal:{deal}"


def test_the_boundary_day_and_overdue(app: Flask, client: FlaskClient,
                                      configured: dict[str, str], demo_sim: Simulator,
                                      t0: datetime) -> None:
    admin = configured
    on_due = company(demo_sim, "Cadence due-today", "A")
    activity(demo_sim, (4, on_due), at=t0 - timedelta(days=14))
    late = company(demo_sim, "Cadence one-day-late", "A")
    activity(demo_sim, (4, late), at=t0 - timedelta(days=15))
    assert client.post("/api/v1/cadence/resync", headers=admin, json={}).status_code == 200
    due = row(client, admin, "Cadence due-today")
    assert (due["state"], due["overdue"], due["days_overdue"]) == ("warning", False, 0)
    over = row(client, admin, "Cadence one-day-late")
    assert (over["state"], over["overdue"], over["days_overdue"]) == ("overdue", True, 1)
    overdue = report(client, admin, state="overdue", category="A", q="Cadence")["items"]
    assert [r["title"] for r in overdue] == ["Cadence one-day-late"]
    not_overdue = report(client, admin, state="not_overdue", q="Cadence")["items"]
    assert "Cadence due-today" in [r["title"] for r in not_overdue]


def test_csv_matches_the_table_and_roles_see_their_share(
        app: Flask, client: FlaskClient, configured: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    admin = configured
    assert client.post("/api/v1/cadence/resync", headers=admin, json={}).status_code == 200
    table = report(client, admin, state="overdue", per_page=100)
    answer = client.get("/api/v1/cadence/report.csv", headers=admin,
                        query_string={"state": "overdue"})
    lines = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert lines[0][:2] == ["company_id", "title"]
    assert [int(r[0]) for r in lines[1:]][:len(table["items"])] == [
        r["company_id"] for r in table["items"]]
    assert len(lines) - 1 == table["total"]

    everyone = report(client, admin)["total"]
    mine = report(client, token(app, NIKITINA))
    assert 0 < mine["total"] < everyone
    assert {r["responsible_id"] for r in mine["items"]} == {NIKITINA}
    department = report(client, token(app, TORG_HEAD))["total"]
    assert mine["total"] <= department <= everyone
    load = client.get("/api/v1/cadence/load", headers=admin).get_json()["items"]
    assert sum(e["total"] for e in load) == everyone
    assert client.get("/api/v1/cadence/report", headers=admin,
                      query_string={"state": "late"}).get_json()["error"]["field"] == "state"
    page = client.get("/cadence/", headers=admin)
    assert page.status_code in (200, 302)
    assert ADMIN


def test_plan_a_call_then_completing_it_on_the_portal_counts(
        app: Flask, client: FlaskClient, configured: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    admin, mine = configured, token(app, NIKITINA)
    phoned = add(demo_sim, "company", {"TITLE": "Cadence phoned", "ASSIGNED_BY_ID": NIKITINA,
                                       "UF_CRM_CATEGORY": CATEGORY["A"],
                                       "PHONE": [{"VALUE": "+74950000001", "VALUE_TYPE": "WORK"}]})
    silent = company(demo_sim, "Cadence silent", "A")
    tomorrow = iso(t0 + timedelta(days=1, hours=1))
    for body, field in (({"company_id": silent, "when": tomorrow}, "company_id"),
                        ({"company_id": phoned, "when": iso(t0 - timedelta(hours=1))}, "when"),
                        ({"company_id": 10 ** 9, "when": tomorrow}, "company_id"),
                        ({"company_id": phoned, "when": "soon"}, "when")):
        answer = client.post("/api/v1/cadence/plan-call", json=body, headers=mine)
        assert answer.status_code == 422, body
        assert answer.get_json()["error"]["field"] == field
    assert demo_sim.call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 4,
                                                          "OWNER_ID": silent}})["result"] == []
    other = client.post("/api/v1/cadence/plan-call", headers=admin,
                        json={"company_id": phoned, "when": tomorrow})
    assert other.status_code == 201, other.get_data(as_text=True)
    planned = other.get_json()
    assert planned["phone"] == "+74950000001" and planned["responsible_id"] == NIKITINA
    assert row(client, admin, "Cadence phoned")["last_call_at"] is None  # planned only
    demo_sim.call("crm.activity.update", {"id": planned["activity_id"], "fields": {
        "COMPLETED": "Y", "START_TIME": iso(t0 - timedelta(minutes=3)), "END_TIME": iso(t0)}})
    done = row(client, admin, "Cadence phoned")
    assert done["last_call_at"] is not None and done["last_contact"]["bound_to"] == \
        f"company:{phoned}"


def test_a_contact_moving_to_another_company_takes_its_e_mails_along(
        app: Flask, client: FlaskClient, configured: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    admin = configured
    first = company(demo_sim, "Cadence first-home", "B")
    second = company(demo_sim, "Cadence second-home", "B")
    person = add(demo_sim, "contact", {"NAME": "Olga", "LAST_NAME": "Moving",
                                       "COMPANY_ID": first, "ASSIGNED_BY_ID": NIKITINA})
    activity(demo_sim, (3, person), type_id=4, direction=2, at=t0 - timedelta(days=3))
    assert row(client, admin, "Cadence first-home")["last_email_at"] is not None
    demo_sim.call("crm.contact.update", {"id": person, "fields": {"COMPANY_ID": second}})
    # In-process a contact's change makes no job; the resync (nightly, or now) catches it.
    assert client.post("/api/v1/cadence/resync", headers=admin).status_code == 200
    assert row(client, admin, "Cadence first-home")["last_email_at"] is None
    assert row(client, admin, "Cadence second-home")["last_email_at"] is not None
    demo_sim.call("crm.company.delete", {"id": second})
    assert report(client, admin, q="Cadence second-home")["items"] == []

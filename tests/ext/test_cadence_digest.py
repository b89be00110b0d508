"""The cadence acting on the report: the daily digest per manager (once a portal day, late
once when the hour was missed), planning a call through the confirmation (a link changes
nothing), and the demo's tricky cases read with the portal's call statistics."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.cadence.tasks import digest_tick
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from simulator import Simulator
from simulator.im import tables as im_tables
from simulator.scenarios.demo_cadence import SETTING
from tests.clock import TestClock
from tests.ext.absences_support import EMAILS, token

pytestmark = pytest.mark.dated


def configure(client: FlaskClient, admin: dict[str, str], **extra: Any) -> None:
    answer = client.put("/api/v1/cadence/settings", headers=admin,
                        json={"category_field": "UF_CRM_CATEGORY", **extra})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert client.post("/api/v1/cadence/resync", headers=admin).status_code == 200


def digests(sim: Simulator) -> list[Any]:
    n = im_tables.notifications
    with sim.engine.connect() as conn:
        return list(conn.execute(select(n).where(n.c.tag.like("cadence-digest|%"))
                                 .order_by(n.c.id)))


def overdue_per_manager(client: FlaskClient, admin: dict[str, str]) -> dict[int, int]:
    load = client.get("/api/v1/cadence/load", headers=admin).get_json()["items"]
    return {e["responsible_id"]: e["states"]["overdue"] for e in load
            if e["responsible_id"] and e["states"]["overdue"]}


def test_the_daily_digest_once_a_day_late_once(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        test_clock: TestClock) -> None:
    configure(client, admin, digest_hour=9)
    overdue = overdue_per_manager(client, admin)
    assert overdue, "the demo has overdue clients"
    english = min(overdue)
    with app.app_context():
        db.session.execute(PortalUser.__table__.update().where(
            PortalUser.portal_user_id == english).values(language="en"))
        db.session.commit()

    # 08:00: the hour of today has not come; yesterday's digest was never sent: late, once.
    demo_sim.clock.set(test_clock.at(0, 8), frozen=True)
    with app.app_context():
        digest_tick()
        digest_tick()
    first = digests(demo_sim)
    assert sorted(m.user_id for m in first) == sorted(overdue)  # one each, none for others
    assert all(m.tag.endswith(f"|{m.user_id}") and test_clock.day(-1).isoformat() in m.tag
               for m in first)

    # 09:30: today's, once, whatever the number of runs.
    demo_sim.clock.set(test_clock.at(0, 9, 30), frozen=True)
    with app.app_context():
        digest_tick()
        digest_tick()
    today = [m for m in digests(demo_sim) if test_clock.day(0).isoformat() in m.tag]
    assert sorted(m.user_id for m in today) == sorted(overdue)

    mine = next(m for m in today if m.user_id == english)
    lines = mine.message.splitlines()
    assert "of your clients" in lines[0] and len(lines) - 1 == min(overdue[english], 30)
    days = [int(re.search(r"(\d+) days? overdue", line).group(1))  # type: ignore[union-attr]
            for line in lines[1:31]]
    assert days == sorted(days, reverse=True)  # most overdue first
    links = re.findall(r"\[URL=([^\]]+)\]plan a call\[/URL\]", mine.message)
    assert len(links) == len(days) and all("/cadence/plan-call?company_id=" in u for u in links)
    other = next(m for m in today if m.user_id != english)
    assert "запланировать звонок" in other.message  # the portal's language (Russian)

    # A link only asks; nothing is planned until the confirmation comes back.
    company_id = int(links[0].rsplit("=", 1)[1])
    before = demo_sim.call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 4,
                                                            "OWNER_ID": company_id}})["total"]
    path = links[0][links[0].index("/cadence/"):]
    asked = client.get(path, headers=token(app, english))
    assert asked.status_code in (200, 302)
    assert demo_sim.call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 4,
                                                          "OWNER_ID": company_id}})["total"] \
        == before


def test_the_demo_cases_and_a_call_planned_then_made(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        login_as: Any, test_clock: TestClock) -> None:
    cases = demo_sim.settings.get(SETTING)
    configure(client, admin)

    def state(company_id: int) -> dict[str, Any]:
        page, pages = 1, 1
        while page <= pages:
            answer = client.get("/api/v1/cadence/report", headers=admin, query_string={
                "per_page": 100, "page": page}).get_json()
            found = [r for r in answer["items"] if r["company_id"] == company_id]
            if found:
                return found[0]
            page, pages = page + 1, answer["pages"]
        raise AssertionError(f"company {company_id} is not in the report")

    expected = {"deal_call": False, "missed_call": True, "planned_call": True,
                "failed_call": True, "contact_email": False}
    for case, overdue in expected.items():
        assert state(cases[case])["overdue"] is overdue, case
    assert state(cases["deal_call"])["last_contact"]["bound_to"].startswith("deal:")
    assert state(cases["contact_email"])["last_contact"]["bound_to"].startswith("contact:")
    assert state(cases["no_category"])["state"] == "no_category"

    # The manager plans a call on their overdue A client from the report, through the
    # confirmation.
    target = state(cases["failed_call"])
    manager = target["responsible_id"]
    login_as(client, EMAILS[manager])
    page = client.get("/cadence/?state=overdue&category=A").get_data(as_text=True)
    assert f'data-company="{target["company_id"]}"' in page
    count = {"filter": {"OWNER_TYPE_ID": 4, "OWNER_ID": target["company_id"]}}
    before = demo_sim.call("crm.activity.list", count)["total"]
    asked = client.post("/cadence/plan-call", data={"company_id": target["company_id"],
                                                   "hour": "11"})
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and 'id="confirmation"' in text
    assert demo_sim.call("crm.activity.list", count)["total"] == before
    answer = re.search(r'name="confirmation" value="([^"]+)"', text)
    assert answer is not None
    done = client.post("/cadence/plan-call", data={
        "company_id": target["company_id"], "hour": "11", "confirmation": answer.group(1)},
        follow_redirects=True)
    assert "is planned" in done.get_data(as_text=True)
    planned = demo_sim.call("crm.activity.list", {**count, "filter": {
        **count["filter"], "COMPLETED": "N"}, "select": ["ID", "START_TIME"]})["result"]
    assert any(p["START_TIME"].startswith(test_clock.day(1).isoformat() + "T11:00")
               for p in planned)

    # The call is made on the portal: a failed attempt does not count, a real one does.
    phone = {"USER_ID": manager, "TYPE": 1, "PHONE_NUMBER": "+74950000009",
             "CRM_ENTITY_TYPE": "COMPANY", "CRM_ENTITY_ID": target["company_id"]}
    busy = demo_sim.call("telephony.externalcall.register", phone)["result"]
    demo_sim.call("telephony.externalcall.finish", {"CALL_ID": busy["CALL_ID"],
                                                     "USER_ID": manager, "STATUS_CODE": "486"})
    assert state(target["company_id"])["overdue"] is True
    short = demo_sim.call("telephony.externalcall.register", phone)["result"]
    demo_sim.call("telephony.externalcall.finish", {"CALL_ID": short["CALL_ID"],
                                                     "USER_ID": manager, "DURATION": 95})
    after = state(target["company_id"])
    assert after["overdue"] is False and after["last_contact"]["channel"] == "call"
    listed = client.get("/cadence/?state=overdue&category=A").get_data(as_text=True)
    assert f'data-company="{target["company_id"]}"' not in listed

    # The minimum duration applies to the statistics' duration: 95 s is too short for 120.
    configure(client, admin, contact={"min_call_seconds": 120})
    assert state(target["company_id"])["overdue"] is True

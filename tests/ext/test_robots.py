"""Stage robots in-process against the demo portal, as users play them: an administrator
creates a robot on the page (the preview shows the computed deadline; a missing stage is
refused naming the field), a lead enters the stage and the task appears for the right person
with the working-hours deadline, bound to the lead, under the robots' deadline policy; once per
entry (replayed events and the catch-up make nothing twice; a skipped stage fires nothing;
leaving closes, re-entering fires again); bad input named; a stage deleted on the portal shows
the robot broken, skips it with the reason and tells the administrator once; versions and
revert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.context import for_portal
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.portal.registration import current_portal
from portal_ext.robots import services
from portal_ext.robots.models import RobotRun
from portal_ext.working_time import WorkCalendar
from simulator import Simulator
from simulator.core.errors import SimError
from tests.clock import TestClock
from tests.ext.absences_support import EMAILS, NIKITINA, freeze
from tests.ext.fanout_support import inbox

pytestmark = pytest.mark.dated

ROBOT = {"entity": "lead", "status_id": "IN_PROCESS",
         "title": "Call back {TITLE} ({PHONE})",
         "description": "Client {COMPANY_TITLE}, stage {STATUS_NAME}: {LINK}",
         "deadline_hours": 4, "auditors": ["head"], "task_control": True,
         "checklist": ["Call", "Write the summary"], "on_leave": "close"}


def lead_of(sim: Simulator, title: str, user_id: int = NIKITINA) -> int:
    lead: int = sim.call("crm.lead.add", {"fields": {
        "TITLE": title, "STATUS_ID": "NEW", "ASSIGNED_BY_ID": user_id,
        "COMPANY_TITLE": f"{title} LLC",
        "PHONE": [{"VALUE": "+7 495 100-00-00", "VALUE_TYPE": "WORK"}]}})["result"]
    return lead


def move(sim: Simulator, lead: int, status: str) -> None:
    sim.call("crm.lead.update", {"id": lead, "fields": {"STATUS_ID": status}})


def tasks_of(sim: Simulator, lead: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = sim.call("tasks.task.list", {
        "filter": {"UF_CRM_TASK": f"L_{lead}"},
        "select": ["ID", "TITLE", "RESPONSIBLE_ID", "DEADLINE", "UF_CRM_TASK", "AUDITORS",
                   "TASK_CONTROL", "ALLOW_CHANGE_DEADLINE", "STATUS"]})["result"]["tasks"]
    return sorted(rows, key=lambda t: int(t["id"]))


def portal_calendar(sim: Simulator) -> WorkCalendar:
    return WorkCalendar.from_settings(sim.call("calendar.settings.get")["result"], sim.tz)


def test_a_robot_made_in_the_editor_creates_one_guarded_task_per_stage_entry(
        app: Flask, client: FlaskClient, login_as: Any, admin: dict[str, str],
        demo_sim: Simulator, test_clock: TestClock) -> None:
    friday = test_clock.at(test_clock.next_weekday(4, after=1), 17, 30)
    freeze(client, friday)
    lead = lead_of(demo_sim, "Kraft")
    login_as(client, EMAILS[1])
    form = {**{k: v for k, v in ROBOT.items() if k not in ("auditors", "checklist")},
            "auditors_head": "y", "checklist": "Call\nWrite the summary", "task_control": "y",
            "enabled": "y", "policy": "", "item_id": str(lead)}
    # The preview explains the deadline and creates nothing.
    page = client.post("/robots/new", data={**form, "action": "preview"})
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    text = page.get_data(as_text=True)
    expected = portal_calendar(demo_sim).add_hours(friday, 4)
    assert "Call back Kraft (+7 495 100-00-00)" in text
    assert "entered at Fri 17:30 + 4 working hours = " in text
    assert tasks_of(demo_sim, lead) == []
    # A missing stage is refused, named, and nothing is saved.
    refused = client.post("/robots/new", data={**form, "status_id": "NO_SUCH", "action": "save"})
    assert refused.status_code == 422
    assert "There is no stage NO_SUCH" in refused.get_data(as_text=True)
    assert client.get("/api/v1/stage-robots", headers=admin).get_json()["total"] == 0
    saved = client.post("/robots/new", data={**form, "action": "save"})
    assert saved.status_code == 302
    robot = client.get("/api/v1/stage-robots", headers=admin).get_json()["items"][0]
    assert (robot["status_id"], robot["deadline_hours"], robot["version"]) == ("IN_PROCESS", 4, 1)
    # The robots' policy: a reason is required to move the deadline.
    assert client.put("/api/v1/deadline-policies/robots", headers=admin,
                      json={"mode": "reason_required"}).status_code == 200

    # The lead enters the stage: one task for its responsible, due in 4 working hours.
    move(demo_sim, lead, "IN_PROCESS")
    [task] = tasks_of(demo_sim, lead)
    assert task["title"] == "Call back Kraft (+7 495 100-00-00)"
    assert int(task["responsibleId"]) == NIKITINA
    assert task["ufCrmTask"] == [f"L_{lead}"]
    assert task["taskControl"] == "Y" and task["allowChangeDeadline"] == "N"
    due = datetime.fromisoformat(task["deadline"]).astimezone(UTC).replace(tzinfo=None)
    assert due == expected
    with app.app_context():
        heads = services.heads_of(current_portal(), NIKITINA)
    assert [int(a) for a in task["auditors"]] == heads[:1]
    items = demo_sim.call("task.checklistitem.getlist", {"TASKID": task["id"]})["result"]
    assert [i["TITLE"] for i in items] == ["Call", "Write the summary"]
    # Its responsible cannot move the deadline by herself (ALLOW_CHANGE_DEADLINE=N, and the
    # on-site veto asks a reason where her rights would let her).
    with pytest.raises(SimError, match="deadline"):
        demo_sim.call("tasks.task.update", {"taskId": task["id"], "fields": {
            "DEADLINE": (due.replace(tzinfo=UTC) + (friday - friday.replace(hour=0))
                         ).isoformat()}}, user_id=NIKITINA)

    # A replayed event, and the catch-up reading the stage history: nothing twice.
    with app.app_context():
        ctx = for_portal(current_portal())
        after = demo_sim.call("crm.lead.get", {"id": lead})["result"]
        services.on_item_change(ctx, entity="lead", before={**after, "STATUS_ID": "NEW"},
                                after=after)
        services.catch_up(ctx)
        services.on_item_event(ctx, entity="lead", item_id=lead)
    assert len(tasks_of(demo_sim, lead)) == 1

    # Leaving closes the open task (on_leave=close); re-entering fires again.
    move(demo_sim, lead, "PROCESSED")
    assert tasks_of(demo_sim, lead)[0]["status"] == "5"
    move(demo_sim, lead, "IN_PROCESS")
    assert len(tasks_of(demo_sim, lead)) == 2
    # A stage skipped over fires nothing.
    skipped = lead_of(demo_sim, "Skipped")
    move(demo_sim, skipped, "CONVERTED")
    assert tasks_of(demo_sim, skipped) == []
    # An item created straight into the stage has entered it.
    direct: int = demo_sim.call("crm.lead.add", {"fields": {
        "TITLE": "Direct", "STATUS_ID": "IN_PROCESS", "ASSIGNED_BY_ID": NIKITINA}})["result"]
    assert len(tasks_of(demo_sim, direct)) == 1

    runs = client.get(f"/api/v1/stage-robots/runs?robot={robot['id']}&item={lead}",
                      headers=admin).get_json()["items"]
    assert sorted(r["outcome"] for r in runs) == ["closed", "created"]
    assert client.get(f"/robots/runs?item={lead}").status_code == 200


def test_bad_robots_are_refused_naming_the_field_and_a_deleted_stage_breaks_a_robot(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    def refused(changes: dict[str, Any]) -> dict[str, Any]:
        answer = client.post("/api/v1/stage-robots", headers=admin, json={**ROBOT, **changes})
        assert answer.status_code == 422, answer.get_json()
        error: dict[str, Any] = answer.get_json()["error"]
        return error

    assert refused({"status_id": "NO_SUCH"})["field"] == "status_id"
    unknown = refused({"title": "Call {TITLE} in {CITY}"})
    assert unknown["field"] == "title" and "{CITY}" in unknown["message"]
    assert refused({"deadline_hours": -4})["field"] == "deadline_hours"
    assert refused({"policy": "strict"})["field"] == "policy"
    assert refused({"entity": "deal", "category_id": 77})["field"] == "category_id"
    with app.app_context():
        user = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_user_id == 7)).one()
        user.active = False
        db.session.commit()
    assert refused({"responsible": "7"})["field"] == "responsible"
    # Several bad fields: one answer names every one of them.
    several = refused({"status_id": "NO_SUCH", "title": "Call {TITLE} in {CITY}",
                       "responsible": "somebody", "deadline_hours": 0, "policy": "strict",
                       "auditors": ["head", 999999]})
    named = {e["field"]: e["message"] for e in several["errors"]}
    assert set(named) == {"status_id", "title", "responsible", "deadline_hours", "policy",
                          "auditors"}
    assert "{CITY}" in named["title"] and "NO_SUCH" in named["status_id"]
    assert "999999" in named["auditors"]
    assert client.get("/api/v1/stage-robots", headers=admin).get_json()["total"] == 0

    made = client.post("/api/v1/stage-robots", headers=admin, json=ROBOT)
    assert made.status_code == 201, made.get_json()
    robot = made.get_json()
    changed = client.patch(f"/api/v1/stage-robots/{robot['id']}", headers=admin,
                           json={"deadline_hours": 8, "enabled": False})
    assert changed.get_json()["version"] == 2
    back = client.patch(f"/api/v1/stage-robots/{robot['id']}", headers=admin,
                        json={"revert_to": 1}).get_json()
    assert (back["version"], back["deadline_hours"], back["enabled"]) == (3, 4, True)
    detail = client.get(f"/api/v1/stage-robots/{robot['id']}", headers=admin).get_json()
    assert [v["action"] for v in detail["versions"]] == ["reverted", "updated", "created"]
    assert detail["versions"][1]["changed"] == ["deadline_hours", "enabled"]
    lead = lead_of(demo_sim, "Preview me")
    preview = client.post(f"/api/v1/stage-robots/{robot['id']}/preview", headers=admin,
                          json={"item_id": lead}).get_json()
    assert preview["binding"] == f"L_{lead}" and preview["explanation"].startswith("entered at")
    # A country's public holidays, kept as the portal keeps its own (recurring D.MM).
    with app.app_context():
        ctx = for_portal(current_portal())
        added = services.add_country_holidays(ctx, "ru")["year_holidays"].split(",")
        assert {"1.01", "7.01", "9.05"} <= set(added) and added == sorted(
            added, key=lambda d: (int(d.split(".")[1]), int(d.split(".")[0])))
        assert (5, 9) in services.calendar(ctx).holidays
        with pytest.raises(services.RobotError) as refused_country:
            services.add_country_holidays(ctx, "ZZ")
        assert refused_country.value.field == "country"

    # The stage is deleted on the portal: the robot is broken, skipped with the reason, and
    # the administrator is told once.
    [status] = demo_sim.call("crm.status.list", {"filter": {
        "ENTITY_ID": "STATUS", "STATUS_ID": "IN_PROCESS"}})["result"]
    demo_sim.call("crm.status.delete", {"id": status["ID"]})
    with app.app_context():
        services.catch_up(for_portal(current_portal()))  # the periodic check
    listed = client.get("/api/v1/stage-robots", headers=admin).get_json()["items"][0]
    assert listed["broken_field"] == "status_id" and "IN_PROCESS" in listed["broken"]
    move(demo_sim, lead, "IN_PROCESS")
    again = lead_of(demo_sim, "Second")
    move(demo_sim, again, "IN_PROCESS")
    assert tasks_of(demo_sim, lead) == [] and tasks_of(demo_sim, again) == []
    with app.app_context():
        runs = [(r.outcome, r.error or "") for r in db.session.scalars(select(RobotRun))]
        services.catch_up(for_portal(current_portal()))
    assert [r[0] for r in runs] == ["skipped", "skipped"]
    assert all("IN_PROCESS" in r[1] for r in runs)
    told = [n for n in inbox(demo_sim, 1) if "robot-broken" in (n["tag"] or "")]
    assert len(told) == 1 and "IN_PROCESS" in told[0]["message"]


def test_the_demo_robots_make_tasks_as_the_portals_life_moves_leads(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    from random import Random

    from portal_ext.robots.demo_setup import set_up_demo
    from simulator.scenarios.life import step

    with app.app_context():
        ctx = for_portal(current_portal())
        assert set_up_demo(ctx) == 3
        assert set_up_demo(ctx) == 0  # an administrator's robots are never overwritten
    said = [step(demo_sim, Random(seed), action="lead_moved") for seed in range(12)]
    runs = client.get("/api/v1/stage-robots/runs", headers=admin).get_json()["items"]
    assert runs, said
    assert {r["outcome"] for r in runs} <= {"created", "closed"}, runs
    assert all(r["task_id"] and r["deadline"] for r in runs)

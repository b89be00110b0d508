"""The extension inside the portal's own automation, as with a cloud portal: the portal and the
extension each on their own HTTP server; the extension installed as an application (its
tokens from the install event, kept encrypted, refreshed before they expire), its robot
registered with ``bizproc.robot.add`` and placed on a lead status in the portal's automation;
a lead entering the status gets its task, bound to it, due in working hours, and the portal
hears the task id through ``bizproc.event.send``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select, update

from portal_ext.extensions import db
from portal_ext.portal.application import AppInstallation, application_client
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.errors import PortalError
from portal_ext.portal.registration import client_for, current_portal
from portal_ext.robots.automation import ROBOT_CODE, RobotCall
from portal_ext.working_time import read_calendar
from simulator import Simulator, bizproc
from simulator.core.bus import flatten_form
from tests.ext.rest_servers import CLIENT_ID, Served, served_apart


@pytest.fixture
def served(demo_sim: Simulator, ext_database_url: str) -> Iterator[Served]:
    with served_apart(demo_sim, ext_database_url) as setup:
        yield setup


def _tasks_of(client: Any, binding: str) -> list[dict[str, Any]]:
    return client.call("tasks.task.list", {"filter": {"UF_CRM_TASK": binding},
                                           "select": ["ID", "RESPONSIBLE_ID", "DEADLINE",
                                                      "UF_CRM_TASK", "ALLOW_CHANGE_DEADLINE",
                                                      "TITLE"]})["tasks"]


def test_the_robot_placed_in_the_portals_automation_creates_the_task_once(
        served: Served) -> None:
    sim, portal_url, ext_url = served.sim, served.portal_url, served.ext_url
    http = requests.Session()
    assert http.post(f"{portal_url}/_sim/clock", json={"frozen": True}).status_code == 200

    # Through an incoming webhook the portal refuses robots: application context only.
    refused = http.post(f"{portal_url}/rest/1/testtoken/bizproc.robot.add.json", json={
        "CODE": ROBOT_CODE, "HANDLER": f"{ext_url}/bizproc/robot", "NAME": "x"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "ACCESS_DENIED",
                              "error_description": "Application context required"}

    # The administrator installs the application: the portal posts its tokens.
    installed = http.post(f"{portal_url}/_sim/apps/{CLIENT_ID}/install",
                          json={"handler": f"{ext_url}/bizproc/install"})
    assert installed.status_code == 200, installed.text
    assert installed.json()["result"]["status"] == 200, installed.json()
    runner = served.app.test_cli_runner()
    with served.app.app_context():
        portal = current_portal()
        row = db.session.scalars(select(AppInstallation)).one()
        assert "bizproc" in row.scopes
        assert all(len(value) > 100 and value.startswith("gAAAA")
                   for value in (row.access_token, row.refresh_token, row.application_token))
        with pytest.raises(PortalError) as webhook_refusal:
            client_for(portal).call("bizproc.robot.list")
        assert webhook_refusal.value.code == "ACCESS_DENIED"

        # Registered from the command line, twice: added, then updated.
        for outcome in ("added", "updated"):
            result = runner.invoke(args=["bizproc", "register", "--url",
                                         f"{ext_url}/bizproc/robot"])
            assert result.exit_code == 0, result.output
            assert f'"outcome": "{outcome}"' in result.output
        assert application_client(portal).call("bizproc.robot.list") == [ROBOT_CODE]

        # A token about to expire is refreshed before the call.
        sealed_before = row.access_token
        db.session.execute(update(AppInstallation).values(expires_at=host_utcnow()))
        db.session.commit()
        assert application_client(portal).call("app.info")["CODE"] == CLIENT_ID
        db.session.expire_all()
        refreshed = db.session.scalars(select(AppInstallation)).one()
        assert refreshed.refreshed_at is not None
        assert refreshed.expires_at > host_utcnow() + timedelta(minutes=30)
        assert refreshed.access_token != sealed_before

    # The administrator places the robot on "In progress" in the portal's automation.
    placed = http.post(f"{portal_url}/_sim/bizproc/automation", json={
        "entity": "lead", "status_id": "IN_PROCESS", "code": ROBOT_CODE,
        "properties": {"title": "Call back: {TITLE}", "working_hours": 4,
                       "policy": "reason_required"}})
    assert placed.status_code == 200, placed.text
    page = http.get(f"{portal_url}/portal/automation")
    assert page.status_code == 200 and "IN_PROCESS" in page.text and ROBOT_CODE in page.text

    webhook = f"{portal_url}/rest/1/testtoken/"
    lead = http.post(f"{webhook}crm.lead.list.json", json={
        "filter": {"STATUS_ID": "NEW"}, "select": ["ID", "TITLE", "ASSIGNED_BY_ID"]}
    ).json()["result"][0]
    entered_at = sim.clock.now().replace(microsecond=0)  # the run's ts: whole seconds
    moved = http.post(f"{webhook}crm.lead.update.json",
                      json={"id": lead["ID"], "fields": {"STATUS_ID": "IN_PROCESS"}})
    assert moved.status_code == 200, moved.text
    assert bizproc.flush(sim, 30)

    [run] = bizproc.runs(sim)
    assert run["document_id"] == ["crm", "CCrmDocumentLead", f"LEAD_{lead['ID']}"]
    assert run["delivery_status"] == 200 and run["state"] == "completed", run
    task_id = int(run["return_values"]["task_id"])
    with served.app.app_context():
        client = client_for(current_portal())
        [task] = _tasks_of(client, f"L_{lead['ID']}")
        assert int(task["id"]) == task_id
        assert task["ufCrmTask"] == [f"L_{lead['ID']}"]
        assert task["title"] == f"Call back: {lead['TITLE']}"
        assert task["responsibleId"] == str(lead["ASSIGNED_BY_ID"])
        assert task["allowChangeDeadline"] == "N"
        due = read_calendar(client).add_hours(entered_at, 4)
        call = db.session.scalars(select(RobotCall)).one()
        assert (call.state, call.task_id, call.deadline) == ("answered", task_id, due)
        assert task["deadline"].startswith(
            sim.to_portal_iso(due)[:16]), (task["deadline"], due)

    # The same run delivered again: answered from the record, nothing created.
    form = flatten_form({"workflow_id": run["workflow_id"], "code": ROBOT_CODE,
                         "document_id": run["document_id"], "event_token": run["event_token"],
                         "properties": run["properties"],
                         "auth": {"application_token": sim.application_token,
                                  "member_id": sim.member_id}})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    replay = http.post(f"{ext_url}/bizproc/robot", data=urlencode(form), headers=headers)
    assert replay.status_code == 200
    assert replay.json() == {"accepted": False, "duplicate": True, "state": "answered",
                             "task_id": task_id}

    # A forged call and a broken one change nothing.
    forged = [(k, "wrong" if k == "auth[application_token]" else v) for k, v in form]
    assert http.post(f"{ext_url}/bizproc/robot", data=urlencode(forged),
                     headers=headers).status_code == 401
    broken = [(k, v) for k, v in form if not k.startswith("document_id")]
    broken = [(k, "other-token" if k == "event_token" else v) for k, v in broken]
    answer = http.post(f"{ext_url}/bizproc/robot", data=urlencode(broken), headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "document_id"
    with served.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RobotCall)) == 1
        assert len(_tasks_of(client_for(current_portal()), f"L_{lead['ID']}")) == 1

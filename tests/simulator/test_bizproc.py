"""The portal's robots for applications: ``bizproc.robot.*`` only in an application's context
and for an administrator, each application's robots its own, the handler on the application's
address; the automation per stage (control plane, guarded by the control token) runs a robot
when an item enters its stage, not when the item skips over it; ``bizproc.event.send`` takes
only a waiting run's token."""

from __future__ import annotations

import pytest

from simulator import Simulator, bizproc
from simulator.core.caller import as_app
from simulator.core.errors import SimError
from simulator.web import create_app
from tests.simulator.staff import ADMIN, SELLER, add_staff

APP, OTHER = "local.app", "local.other"
HANDLER = "http://127.0.0.1:9/robot"  # nothing listens: the call fails at once


def robot(code: str = "guarded", **extra: object) -> dict[str, object]:
    return {"CODE": code, "HANDLER": HANDLER, "NAME": {"en": "Guarded task"},
            "USE_SUBSCRIPTION": "Y",
            "PROPERTIES": {"title": {"Name": "Title", "Type": "string", "Required": "Y"},
                           "hours": {"Name": "Hours", "Type": "int", "Default": 4}},
            "RETURN_PROPERTIES": {"task_id": {"Name": "Task", "Type": "int"}}, **extra}


def refused(sim: Simulator, method: str, params: dict[str, object], *, app: str | None = APP,
            user_id: int = ADMIN) -> SimError:
    with as_app(app), pytest.raises(SimError) as error:
        sim.call(method, params, user_id=user_id)
    return error.value


def test_robots_belong_to_applications_and_run_when_an_item_enters_their_stage(
        sim: Simulator) -> None:
    add_staff(sim)
    sim.register_app(APP, "secret", "http://127.0.0.1:9/auth/callback")
    sim.register_app(OTHER, "secret2", "http://other.example/cb")

    webhook = refused(sim, "bizproc.robot.add", robot(), app=None)
    assert (webhook.code, webhook.status) == ("ACCESS_DENIED", 403)
    assert refused(sim, "bizproc.robot.add", robot(), user_id=SELLER).code == "ACCESS_DENIED"
    elsewhere = refused(sim, "bizproc.robot.add", robot(HANDLER="http://evil.example/x"))
    assert elsewhere.code == "ERROR_ACTIVITY_VALIDATION_FAILURE"
    assert refused(sim, "bizproc.robot.add", robot(CODE="bad code")).code == \
        "ERROR_ACTIVITY_VALIDATION_FAILURE"
    with as_app(APP):
        assert sim.call("bizproc.robot.add", robot())["result"] is True
        assert sim.call("bizproc.robot.add", robot("spare"))["result"] is True
        assert sim.call("bizproc.robot.update", {"CODE": "guarded", "FIELDS": {
            "NAME": "Renamed"}})["result"] is True
        assert sim.call("bizproc.robot.delete", {"CODE": "spare"})["result"] is True
        assert sim.call("bizproc.robot.list")["result"] == ["guarded"]
    assert refused(sim, "bizproc.robot.add", robot()).code == "ERROR_ACTIVITY_ALREADY_INSTALLED"
    assert refused(sim, "bizproc.robot.update", {"CODE": "nope", "FIELDS": {"NAME": "x"}}
                   ).code == "ERROR_ACTIVITY_NOT_FOUND"
    with as_app(OTHER):
        assert sim.call("bizproc.robot.list")["result"] == []

    # The control plane places it, under the control token when one is configured.
    web = create_app(sim, control_token="ctl").test_client()
    body = {"entity": "lead", "status_id": "IN_PROCESS", "code": "guarded",
            "properties": {"title": "Call {TITLE}"}}
    assert web.post("/_sim/bizproc/automation", json=body).status_code == 401
    headers = {"X-Sim-Token": "ctl"}
    for bad, field in (({**body, "properties": {"colour": "red"}}, "properties.colour"),
                       ({**body, "properties": {}}, "properties.title"),
                       ({**body, "code": "missing"}, "code"),
                       ({**body, "entity": "task"}, "entity")):
        answer = web.post("/_sim/bizproc/automation", json=bad, headers=headers)
        assert (answer.status_code, answer.get_json()["field"]) == (400, field)
    placed = web.post("/_sim/bizproc/automation", json=body, headers=headers).get_json()
    assert placed["result"]["properties"] == {"title": "Call {TITLE}", "hours": 4}
    page = web.get("/portal/automation")
    assert page.status_code == 200 and "Call {TITLE}" in page.get_data(as_text=True)

    # Entering the stage runs it (created in it, or moved into it); skipping over it does not.
    created = sim.call("crm.lead.add", {"fields": {"TITLE": "A", "STATUS_ID": "IN_PROCESS"}})
    skipping = sim.call("crm.lead.add", {"fields": {"TITLE": "B"}})["result"]
    sim.call("crm.lead.update", {"id": skipping, "fields": {"STATUS_ID": "CONVERTED"}})
    sim.call("crm.lead.update", {"id": created["result"], "fields": {"TITLE": "A2"}})
    assert bizproc.flush(sim, 30)
    [run] = bizproc.runs(sim)
    assert run["document_id"] == ["crm", "CCrmDocumentLead", f"LEAD_{created['result']}"]
    assert run["properties"] == {"title": "Call {TITLE}", "hours": 4}
    assert run["state"] == "failed" and run["delivery_error"]  # nothing listens there

    # Only the robot's application answers a run, once, keeping its return properties only.
    token = run["event_token"]
    assert refused(sim, "bizproc.event.send", {"EVENT_TOKEN": token}, app=OTHER).code == \
        "ACCESS_DENIED"
    with as_app(APP):
        assert sim.call("bizproc.event.send", {"EVENT_TOKEN": token, "RETURN_VALUES": {
            "task_id": 7, "extra": 1}, "LOG_MESSAGE": "done"})["result"] is True
    assert bizproc.runs(sim)[0]["return_values"] == {"task_id": 7}
    assert refused(sim, "bizproc.event.send", {"EVENT_TOKEN": token}).code == "ACCESS_DENIED"
    assert web.delete(f"/_sim/bizproc/automation/{placed['result']['id']}",
                      headers=headers).status_code == 200
    assert bizproc.placements(sim) == []

"""The task deadline guard end to end against the simulated portal: policies over the API, the
on-site veto of a direct postponement, deadline requests (applied with a reason; approved or
declined by the approver; refused when locked), the audit, and what each role may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.deadlines.models import DeadlineChange, DeadlinePolicy, DeadlineRequest
from portal_ext.directory.models import PortalUser
from portal_ext.events import processing
from portal_ext.extensions import db
from simulator import SimError, Simulator
from simulator.im import tables as im_tables
from simulator.tasks import tables as task_tables
from tests.ext.absences_support import (
    ADMIN,
    LIFT_HEAD,
    NIKITINA,
    SMIRNOVA,
    TORG_HEAD,
    token,
)

pytestmark = pytest.mark.dated
TORG_KOMS, LIFT = 3, 4  # departments of the demo portal


def _iso(when: datetime) -> str:
    return when.replace(tzinfo=UTC).isoformat()


def _add_task(sim: Simulator, *, creator: int, responsible: int, deadline: datetime,
              allow: str = "Y") -> int:
    answer = sim.call("tasks.task.add", {"fields": {
        "TITLE": "Prepare the offer", "RESPONSIBLE_ID": responsible, "DEADLINE": _iso(deadline),
        "ALLOW_CHANGE_DEADLINE": allow}}, user_id=creator)
    return int(answer["result"]["task"]["id"])


def _deadline(sim: Simulator, task_id: int) -> datetime | None:
    t = task_tables.tasks
    with sim.engine.connect() as conn:
        return conn.execute(select(t.c.deadline).where(t.c.id == task_id)).scalar_one()


def _comments(sim: Simulator, task_id: int) -> list[str]:
    c = task_tables.task_comments
    with sim.engine.connect() as conn:
        return list(conn.execute(select(c.c.post_message).where(c.c.task_id == task_id)
                                 .order_by(c.c.id)).scalars())


def _inbox(sim: Simulator, user_id: int) -> list[str]:
    n = im_tables.notifications
    with sim.engine.connect() as conn:
        return list(conn.execute(select(n.c.message).where(n.c.user_id == user_id)
                                 .order_by(n.c.id)).scalars())


def _changes(app: Flask) -> list[tuple[int, int | None, str, int | None]]:
    with app.app_context():
        return [(c.task_id, c.user_id, c.outcome, c.postponement_no) for c in db.session.scalars(
            select(DeadlineChange).order_by(DeadlineChange.id))]


def _put(client: FlaskClient, path: str, headers: dict[str, str], **body: Any) -> Any:
    return client.put(f"/api/v1/deadline-policies/{path}", json=body, headers=headers)


def _request(client: FlaskClient, headers: dict[str, str], task_id: Any, new: Any,
             reason: Any = "The client moved the meeting to next week") -> Any:
    return client.post("/api/v1/deadline-requests", headers=headers, json={
        "task_id": task_id, "new_deadline": new, "reason": reason})


def test_an_administrator_sets_policies_and_bad_ones_change_nothing(
        app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    assert client.get("/api/v1/deadline-policies", headers=admin).get_json()["default"][
        "mode"] == "free"
    answer = _put(client, "default", admin, mode="reason_required", max_postponements=2)
    assert answer.status_code == 200 and answer.get_json()["max_postponements"] == 2
    assert _put(client, f"departments/{TORG_KOMS}", admin, mode="approval_required",
                max_delay_days=10).status_code == 200
    assert _put(client, f"departments/{LIFT}", admin, mode="locked").status_code == 200
    assert _put(client, "robots", admin, mode="free", exempt_heads=False).status_code == 200

    for body, field in (({"mode": "sometimes"}, "mode"),
                        ({"mode": "locked", "max_postponements": -1}, "max_postponements"),
                        ({"mode": "locked", "max_delay_days": "3"}, "max_delay_days"),
                        ({"mode": "locked", "exempt_heads": "yes"}, "exempt_heads")):
        refused = _put(client, "default", admin, **body)
        assert refused.status_code == 422, body
        assert refused.get_json()["error"]["field"] == field
    unknown = _put(client, "departments/999", admin, mode="locked")
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["field"] == "department_id"
    policies = client.get("/api/v1/deadline-policies", headers=admin).get_json()
    assert (policies["default"]["mode"], policies["default"]["max_postponements"]) == (
        "reason_required", 2)
    assert sorted((p["department_id"], p["mode"]) for p in policies["departments"]) == [
        (TORG_KOMS, "approval_required"), (LIFT, "locked")]
    assert policies["robots"]["exempt_heads"] is False

    # A head reads the policies of the departments they oversee; an employee none.
    head = client.get("/api/v1/deadline-policies", headers=token(app, TORG_HEAD)).get_json()
    assert [p["department_id"] for p in head["departments"]] == [TORG_KOMS]
    employee = token(app, NIKITINA)
    assert client.get("/api/v1/deadline-policies", headers=employee).status_code == 403
    assert _put(client, "default", employee, mode="free").status_code == 403
    assert _put(client, "default", token(app, TORG_HEAD), mode="free").status_code == 403

    assert client.delete(f"/api/v1/deadline-policies/departments/{LIFT}",
                         headers=admin).status_code == 204
    again = client.delete(f"/api/v1/deadline-policies/departments/{LIFT}", headers=admin)
    assert again.status_code == 404
    with app.app_context():
        assert db.session.query(DeadlinePolicy).count() == 3


def test_a_direct_postponement_is_vetoed_on_site_in_the_users_language(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    _put(client, "default", admin, mode="reason_required")
    due = t0 + timedelta(days=3)
    task = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)

    with pytest.raises(SimError) as vetoed:
        demo_sim.call("tasks.task.update", {"taskId": task, "fields": {
            "DEADLINE": _iso(due + timedelta(days=2))}}, user_id=NIKITINA)
    assert "needs a reason" in vetoed.value.description
    assert f"/deadlines/requests/new?task={task}" in vetoed.value.description
    assert _deadline(demo_sim, task) == due

    with app.app_context():
        user = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_user_id == NIKITINA)).one()
        user.language = "ru"
        db.session.commit()
    with pytest.raises(SimError) as in_russian:
        demo_sim.call("tasks.task.update", {"taskId": task, "fields": {"DEADLINE": None}},
                      user_id=NIKITINA)
    assert "нужна причина" in in_russian.value.description
    assert _deadline(demo_sim, task) == due

    # Earlier is free; the creator (who set the task for her) is exempt.
    demo_sim.call("tasks.task.update", {"taskId": task, "fields": {
        "DEADLINE": _iso(due - timedelta(hours=2))}}, user_id=NIKITINA)
    demo_sim.call("tasks.task.update", {"taskId": task, "fields": {
        "DEADLINE": _iso(due + timedelta(days=5))}}, user_id=TORG_HEAD)
    assert _deadline(demo_sim, task) == due + timedelta(days=5)
    with app.app_context():
        processing.process_pending()
    assert _changes(app) == [(task, NIKITINA, "vetoed", None), (task, NIKITINA, "vetoed", None),
                             (task, NIKITINA, "accepted", None),
                             (task, TORG_HEAD, "exempt", 1)]


def test_the_veto_fails_open_when_the_extensions_database_fails(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        t0: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    _put(client, "default", admin, mode="locked")
    due = t0 + timedelta(days=3)
    task = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)
    from portal_ext.deadlines import services

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(services, "judge", broken)
    demo_sim.call("tasks.task.update", {"taskId": task, "fields": {
        "DEADLINE": _iso(due + timedelta(days=2))}}, user_id=NIKITINA)
    assert _deadline(demo_sim, task) == due + timedelta(days=2)


def test_a_request_with_a_reason_is_applied_commented_and_audited(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    _put(client, "default", admin, mode="reason_required")
    due = t0 + timedelta(days=3)
    task = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due, allow="N")
    nikitina = token(app, NIKITINA)

    answer = _request(client, nikitina, task, _iso(due + timedelta(days=2)))
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["state"] == "applied"
    assert _deadline(demo_sim, task) == due + timedelta(days=2)
    [comment] = _comments(demo_sim, task)
    assert "at the request of Ольга Никитина" in comment
    assert "The client moved the meeting to next week" in comment
    with app.app_context():
        processing.process_pending()  # the portal's event about it is not recorded twice
    assert _changes(app) == [(task, NIKITINA, "accepted", 1)]
    audit = client.get("/api/v1/deadline-changes", headers=nikitina).get_json()
    assert [c["reason"] for c in audit["items"]] == ["The client moved the meeting to next week"]


def test_under_approval_the_approver_decides_from_the_notification(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    _put(client, "default", admin, mode="reason_required")
    _put(client, f"departments/{TORG_KOMS}", admin, mode="approval_required")
    due = t0 + timedelta(days=3)
    task = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)
    nikitina, head = token(app, NIKITINA), token(app, TORG_HEAD)

    pending = _request(client, nikitina, task, _iso(due + timedelta(days=4))).get_json()
    assert (pending["state"], pending["approver_ids"]) == ("pending", [TORG_HEAD])
    assert _deadline(demo_sim, task) == due
    [notice] = [m for m in _inbox(demo_sim, TORG_HEAD) if "asks to move the deadline" in m]
    assert f"/deadlines/requests/{pending['id']}" in notice

    own = client.post(f"/api/v1/deadline-requests/{pending['id']}/approve", headers=nikitina)
    assert own.status_code == 403
    approved = client.post(f"/api/v1/deadline-requests/{pending['id']}/approve", headers=head)
    assert approved.status_code == 200 and approved.get_json()["state"] == "approved"
    assert _deadline(demo_sim, task) == due + timedelta(days=4)
    assert "approved by Сергей Морозов" in _comments(demo_sim, task)[-1]
    twice = client.post(f"/api/v1/deadline-requests/{pending['id']}/approve", headers=head)
    assert twice.status_code == 409

    other = _request(client, nikitina, task, _iso(due + timedelta(days=9))).get_json()
    no_reason = client.post(f"/api/v1/deadline-requests/{other['id']}/decline", headers=head,
                            json={"reason": ""})
    assert no_reason.status_code == 422 and no_reason.get_json()["error"]["field"] == "reason"
    declined = client.post(f"/api/v1/deadline-requests/{other['id']}/decline", headers=head,
                           json={"reason": "The customer expects it this week"})
    assert declined.get_json()["state"] == "declined"
    assert _deadline(demo_sim, task) == due + timedelta(days=4)
    assert "The customer expects it this week" in _comments(demo_sim, task)[-1]
    assert client.post(f"/api/v1/deadline-requests/{other['id']}/approve",
                       headers=head).status_code == 409

    listed = client.get(f"/api/v1/deadline-requests?task={task}&state=declined",
                        headers=nikitina).get_json()
    assert [r["id"] for r in listed["items"]] == [other["id"]]
    assert client.get("/api/v1/deadline-requests", headers=token(app, SMIRNOVA)).get_json()[
        "items"] == []
    assert _changes(app) == [(task, NIKITINA, "approved", 1), (task, NIKITINA, "declined", None)]


def test_bad_requests_name_the_field_and_store_nothing(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    _put(client, "default", admin, mode="locked")
    due = t0 + timedelta(days=3)
    task = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)
    nikitina = token(app, NIKITINA)
    later = _iso(due + timedelta(days=1))
    for args, status, field in (
            ((task, later), 422, "new_deadline"),  # locked
            ((999999, later), 404, "task_id"),
            ((task, _iso(t0 - timedelta(hours=1))), 422, "new_deadline"),
            ((task, "next Friday"), 422, "new_deadline"),
            ((task, later, "   "), 422, "reason"),
            (("7", later), 422, "task_id")):
        answer = _request(client, nikitina, *args)
        assert answer.status_code == status, (args, answer.get_json())
        assert answer.get_json()["error"]["field"] == field
    missing = client.post("/api/v1/deadline-requests", headers=nikitina,
                          json={"task_id": task, "reason": "Because of the client"})
    assert missing.status_code == 422 and missing.get_json()["error"]["field"] == "new_deadline"
    stranger = _request(client, token(app, SMIRNOVA), task, later)
    assert stranger.status_code == 403
    with app.app_context():
        assert db.session.query(DeadlineRequest).count() == 0
    assert _deadline(demo_sim, task) == due


def test_each_role_sees_only_its_share_of_the_audit(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    _put(client, "default", admin, mode="reason_required")
    due = t0 + timedelta(days=3)
    torg = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)
    lift = _add_task(demo_sim, creator=LIFT_HEAD, responsible=SMIRNOVA, deadline=due)
    _request(client, token(app, NIKITINA), torg, _iso(due + timedelta(days=1)))
    _request(client, token(app, SMIRNOVA), lift, _iso(due + timedelta(days=1)))

    def tasks_seen(who: dict[str, str], query: str = "") -> list[int]:
        answer = client.get(f"/api/v1/deadline-changes{query}", headers=who)
        assert answer.status_code == 200
        return sorted(c["task_id"] for c in answer.get_json()["items"])

    assert tasks_seen(admin) == sorted([torg, lift])
    assert tasks_seen(admin, f"?department={LIFT}") == [lift]
    assert tasks_seen(admin, f"?user={NIKITINA}") == [torg]
    assert tasks_seen(token(app, TORG_HEAD)) == [torg]
    assert tasks_seen(token(app, LIFT_HEAD)) == [lift]
    assert tasks_seen(token(app, NIKITINA)) == [torg]
    assert tasks_seen(token(app, ADMIN), "?since=" + (t0 + timedelta(days=1)).isoformat()) == []

    def requests_seen(who: dict[str, str]) -> list[int]:
        answer = client.get("/api/v1/deadline-requests", headers=who)
        assert answer.status_code == 200
        return sorted(r["task_id"] for r in answer.get_json()["items"])

    assert requests_seen(admin) == sorted([torg, lift])
    assert requests_seen(token(app, TORG_HEAD)) == [torg]
    assert requests_seen(token(app, LIFT_HEAD)) == [lift]
    assert requests_seen(token(app, NIKITINA)) == [torg]
    assert requests_seen(token(app, SMIRNOVA)) == [lift]


def test_the_report_counts_postponements_per_manager_and_each_role_sees_its_share(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    _put(client, "default", admin, mode="reason_required")
    due = t0 + timedelta(days=3)
    torg = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)
    lift = _add_task(demo_sim, creator=LIFT_HEAD, responsible=SMIRNOVA, deadline=due)
    _request(client, token(app, NIKITINA), torg, _iso(due + timedelta(days=2)))
    _request(client, token(app, NIKITINA), torg, _iso(due + timedelta(days=3)))
    with pytest.raises(SimError):
        demo_sim.call("tasks.task.update", {"taskId": lift, "fields": {
            "DEADLINE": _iso(due + timedelta(days=1))}}, user_id=SMIRNOVA)
    already_late = len(demo_sim.call("tasks.task.list", {"filter": {
        "RESPONSIBLE_ID": NIKITINA, "STATUS": -1}})["result"]["tasks"])  # the portal's count
    late = [_add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA,
                      deadline=t0 - timedelta(hours=n)) for n in (1, 30)]
    demo_sim.call("tasks.task.update", {"taskId": late[1], "fields": {"STATUS": 5}},
                  user_id=TORG_HEAD)  # completed: no longer overdue

    def report(who: dict[str, str], query: str = "") -> dict[int, dict[str, Any]]:
        answer = client.get(f"/api/v1/reports/postponements{query}", headers=who)
        assert answer.status_code == 200
        return {line["user_id"]: line for line in answer.get_json()["items"]}

    lines = report(admin)
    assert (lines[NIKITINA]["tasks"], lines[NIKITINA]["postponements"],
            lines[NIKITINA]["delay_days"], lines[NIKITINA]["share_without_reason"]) == (
        1, 2, 3.0, 0.0)
    assert (lines[SMIRNOVA]["postponements"], lines[SMIRNOVA]["stopped_attempts"]) == (0, 1)
    assert lines[NIKITINA]["overdue_now"] == already_late + 1
    assert lines[SMIRNOVA]["by_outcome"] == {"vetoed": 1}

    def changed(lines: dict[int, dict[str, Any]]) -> list[int]:
        """The managers with deadline changes; the others' lines are for late tasks only."""
        assert all(line["overdue_now"] for line in lines.values() if not line["tasks"])
        return [uid for uid, line in lines.items() if line["tasks"]]

    assert changed(report(admin, f"?department={LIFT}")) == [SMIRNOVA]
    assert changed(report(token(app, TORG_HEAD))) == [NIKITINA]
    assert list(report(token(app, SMIRNOVA))) == [SMIRNOVA]
    # Overdue now is no figure of the period: a manager with late tasks keeps a line.
    later = report(token(app, TORG_HEAD), "?since=" + (t0 + timedelta(days=1)).isoformat())
    assert changed(later) == [] and later[NIKITINA]["overdue_now"] == already_late + 1


def test_an_unanswered_request_passes_to_the_next_head(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        t0: datetime) -> None:
    from portal_ext.deadlines.tasks import deadlines_tick
    from tests.ext.absences_support import SALES_HEAD

    _put(client, "default", admin, mode="approval_required")
    due = t0 + timedelta(days=3)
    task = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)
    asked = _request(client, token(app, NIKITINA), task, _iso(due + timedelta(days=2)))
    request_id = asked.get_json()["id"]
    sales = token(app, SALES_HEAD)
    assert client.post(f"/api/v1/deadline-requests/{request_id}/approve",
                       headers=sales).status_code == 403  # not hers to decide yet

    hours = app.config["DEADLINE_ESCALATION_HOURS"]
    demo_sim.clock.advance(hours * 3600 - 60)
    with app.app_context():
        deadlines_tick()
    assert client.get("/api/v1/deadline-requests?state=pending",
                      headers=admin).get_json()["total"] == 1
    demo_sim.clock.advance(120)
    with app.app_context():
        deadlines_tick()
    seen = client.get("/api/v1/deadline-requests?state=escalated", headers=sales).get_json()
    assert [(r["id"], r["approver_ids"]) for r in seen["items"]] == [
        (request_id, [TORG_HEAD, SALES_HEAD])]
    [notice] = [m for m in _inbox(demo_sim, SALES_HEAD) if "it is passed to you" in m]
    assert f"/deadlines/requests/{request_id}" in notice
    approved = client.post(f"/api/v1/deadline-requests/{request_id}/approve", headers=sales)
    assert approved.status_code == 200 and approved.get_json()["state"] == "approved"
    assert _deadline(demo_sim, task) == due + timedelta(days=2)

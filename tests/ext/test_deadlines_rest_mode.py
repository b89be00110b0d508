"""The deadline guard on a cloud portal: the extension reaches the simulated portal over HTTP and
gets its task events (the id only) on its webhook endpoint. A responsible acts over their own
incoming webhook: refused by the portal while the guard holds the flag at N; when their role
may edit their tasks the change goes through and is put back, with a comment in their
language and a notice to their head. Two quick changes end with the snapshot's deadline, a
request with a reason stays, a change made while the extension was down is caught by the
resync, an unreadable task is recorded once, and a freed policy gives the task its own flag
back."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import insert, select, update

from portal_ext.deadlines import detection, tasks
from portal_ext.deadlines.models import DeadlineChange, DeadlineTrack
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import current_portal
from simulator import Simulator
from simulator.tasks import tables as task_tables
from tests.ext.absences_support import ADMIN, NIKITINA, TORG_HEAD, token
from tests.ext.test_deadlines import _add_task, _comments, _deadline, _inbox, _iso
from tests.ext.test_fanout_rest_mode import RestSetup, _settled, rest  # noqa: F401

pytestmark = pytest.mark.dated


def _flag(sim: Simulator, task_id: int) -> bool:
    t = task_tables.tasks
    with sim.engine.connect() as conn:
        return bool(conn.execute(select(t.c.allow_change_deadline).where(
            t.c.id == task_id)).scalar_one())


def _audit(setup: RestSetup, task_id: int) -> list[tuple[int | None, str, int | None]]:
    with setup.app.app_context():
        return [(c.user_id, c.outcome, c.latency_ms) for c in db.session.scalars(
            select(DeadlineChange).where(DeadlineChange.task_id == task_id)
            .order_by(DeadlineChange.id))]


def test_a_responsible_over_their_own_webhook_is_refused_or_reverted(
        rest: RestSetup) -> None:  # noqa: F811
    sim, app = rest.sim, rest.app
    portal_url = app.config["PORTAL_URL"]
    api = app.test_client()
    admin = token(app, ADMIN)
    with app.app_context():
        nikitina_row = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_user_id == NIKITINA)).one()
        nikitina_row.language = "ru"
        db.session.commit()
    now = sim.clock.now()
    due = now.replace(second=0, microsecond=0) + timedelta(days=3)
    assert api.put("/api/v1/deadline-policies/default", headers=admin,
                   json={"mode": "reason_required"}).status_code == 200
    task = _add_task(sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due, allow="Y")
    _settled(sim)

    # Prevention: the guard holds the flag at N and puts the request link in the task.
    assert _flag(sim, task) is False
    assert any(f"/deadlines/requests/new?task={task}" in c for c in _comments(sim, task))

    # Her own webhook (the control plane's), and the portal's refusal while the flag is N.
    hook = requests.post(f"{portal_url}/_sim/users/{NIKITINA}/webhook", timeout=10).json()["url"]
    assert hook.startswith(f"{portal_url}/rest/{NIKITINA}/")
    assert requests.post(f"{portal_url}/_sim/users/999999/webhook", timeout=10).json()[
        "field"] == "user_id"

    def move(to: datetime) -> requests.Response:
        # The portal's events carry Unix seconds and no delivery id: two deliveries of the
        # same event in one second are one to the extension (events.webhook), so each move
        # happens a second after the one before.
        sim.clock.advance(1)
        return requests.post(hook + "tasks.task.update", timeout=10, json={
            "taskId": task, "fields": {"DEADLINE": _iso(to)}})

    refused = move(due + timedelta(days=2))
    assert refused.status_code == 400 and refused.json()["error"] == "ERROR_CORE"
    assert _deadline(sim, task) == due

    # Her role may edit her tasks: the change gets through and is put back.
    roles = requests.post(f"{portal_url}/_sim/tasks/roles", timeout=10,
                          json={"employee": {"responsible_may_edit": True}})
    assert roles.json()["employee"]["responsible_may_edit"] is True
    assert requests.post(f"{portal_url}/_sim/tasks/roles", timeout=10, json={
        "employee": {"edit": "yes"}}).json()["field"] == "employee.edit"
    assert move(due + timedelta(days=2)).status_code == 200
    _settled(sim)
    assert _deadline(sim, task) == due
    assert "Крайний срок задачи" in _comments(sim, task)[-1]  # her language
    assert any("was put back" in m and f"/deadlines/requests/new?task={task}" in m
               for m in _inbox(sim, TORG_HEAD))  # her head's, in his
    [(who, outcome, latency)] = _audit(rest, task)
    assert (who, outcome) == (NIKITINA, "reverted") and latency is not None and latency >= 0

    # Two quick changes end with the snapshot's deadline: no ping-pong.
    assert move(due + timedelta(days=4)).status_code == 200
    assert move(due + timedelta(days=6)).status_code == 200
    _settled(sim)
    assert _deadline(sim, task) == due
    assert all(o == "reverted" for _, o, _ in _audit(rest, task))

    # A request with a reason moves it for good.
    asked = api.post("/api/v1/deadline-requests", headers=token(app, NIKITINA), json={
        "task_id": task, "new_deadline": _iso(due + timedelta(days=1)),
        "reason": "The client moved the meeting to next week"})
    assert asked.get_json()["state"] == "applied"
    _settled(sim)
    assert _deadline(sim, task) == due + timedelta(days=1)

    # Moved while the extension was down (its event lost): the resync puts it back.
    t, h = task_tables.tasks, task_tables.task_history
    later = due + timedelta(days=8)
    with sim.engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == task).values(deadline=later))
        conn.execute(insert(h).values(task_id=task, created_date=now, field="DEADLINE",
                                      from_value="0", to_value="1", user_id=NIKITINA))
    with app.app_context():
        assert tasks.resync_portal(current_portal().id)["reverted"] == 1
    _settled(sim)
    assert _deadline(sim, task) == due + timedelta(days=1)
    assert _audit(rest, task)[-1][:2] == (NIKITINA, "reverted")

    # A task the guard cannot read is recorded, and not read again and again.
    with app.app_context():
        portal = current_portal()
        detection.mark_pending(portal, 999_999, at=host_utcnow())
        db.session.commit()
        assert tasks.sweep_portal(portal.id) == {"unreadable": 1}
        assert tasks.sweep_portal(portal.id) == {}
        gone = db.session.scalars(select(DeadlineTrack).where(
            DeadlineTrack.task_id == 999_999)).one()
        assert gone.read_error and gone.pending_since is None

        # A burst still arriving is taken in whole batches of 50; the rest once it settled.
        now = host_utcnow()
        for offset in range(60):
            detection.mark_pending(portal, 2_000_000 + offset, at=now)
        db.session.commit()
        settle = detection.Settle(window=0.5, most=5.0)
        assert detection.claimable(portal, settle, now=now) == 50
        assert detection.claimable(portal, settle, now=now + timedelta(seconds=1)) == 60
        assert detection.claimable(portal, detection.Settle(), now=now) == 60
        db.session.execute(update(DeadlineTrack).where(DeadlineTrack.task_id >= 2_000_000)
                           .values(pending_since=None))
        detection.mark_pending(portal, 2_000_000, at=now)
        db.session.commit()
        assert detection.claimable(portal, settle, now=now) == 0
        assert tasks.sweep_portal(portal.id) == {"unreadable": 1}  # inline runner: at once

    # The policy is free again: the task gets its own flag back.
    assert api.put("/api/v1/deadline-policies/default", headers=admin,
                   json={"mode": "free"}).status_code == 200
    _settled(sim)
    assert _flag(sim, task) is True

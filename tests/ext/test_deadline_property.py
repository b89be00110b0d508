"""Property: for random sequences of direct deadline changes by random people under random
policies, the audit matches the portal's task history, and no deadline of a bound person's
task ends moved without an accepted, approved or exempt record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal_ext.deadlines.models import DeadlineChange
from portal_ext.deadlines.rules import MODES
from portal_ext.events import processing
from portal_ext.extensions import db
from simulator import SimError, Simulator
from simulator.tasks import tables as task_tables
from tests.ext.absences_support import ADMIN, FEDOROV, NIKITINA, SALES_HEAD, TORG_HEAD
from tests.ext.test_deadlines import _add_task, _iso, _put

pytestmark = pytest.mark.dated
PEOPLE = (NIKITINA, TORG_HEAD, SALES_HEAD, ADMIN, FEDOROV)  # responsible, creator, heads...
steps = st.lists(st.tuples(st.sampled_from(PEOPLE), st.integers(-72, 240)), min_size=1,
                 max_size=5)


def _history(sim: Simulator, task_id: int) -> list[Any]:
    h = task_tables.task_history
    with sim.engine.connect() as conn:
        return list(conn.execute(select(h.c.user_id, h.c.to_value).where(
            h.c.task_id == task_id, h.c.field == "DEADLINE").order_by(h.c.id)))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(mode=st.sampled_from(MODES), limit=st.one_of(st.none(), st.integers(0, 2)),
       changes=steps)
def test_the_audit_matches_the_portals_history(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        t0: datetime, mode: str, limit: int | None, changes: list[tuple[int, int]]) -> None:
    _put(client, "default", admin, mode=mode, max_postponements=limit)
    due = t0 + timedelta(days=5)
    task = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)
    stopped = 0
    for person, hours in changes:
        try:
            demo_sim.call("tasks.task.update", {"taskId": task, "fields": {
                "DEADLINE": _iso(due + timedelta(hours=hours))}}, user_id=person)
        except SimError as refused:  # the guard's veto, or the portal's own access rule
            vetoed = refused.description.startswith(("Moving the deadline",
                                                     "The deadline of this task"))
            stopped += vetoed
    with app.app_context():
        processing.process_pending()
        audit = list(db.session.scalars(select(DeadlineChange).where(
            DeadlineChange.task_id == task).order_by(DeadlineChange.id)))
        through = [(c.user_id, c.new_deadline) for c in audit if c.outcome != "vetoed"]
        assert all(c.outcome in ("accepted", "exempt") for c in audit
                   if c.outcome != "vetoed")
        assert sum(c.outcome == "vetoed" for c in audit) == stopped
    history = _history(demo_sim, task)
    assert [(user, datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)
             if value else None) for user, value in history] == through
    # The responsible's own postponements go through only under free within the limits.
    for change in audit:
        if change.user_id == NIKITINA and change.outcome == "accepted" and \
                change.postponement_no is not None:
            assert mode == "free"

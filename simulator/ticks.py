"""The portal's own time-driven work, run by scenarios and by the control plane
(``POST /_sim/tick``): ``tick(sim)`` looks at portal time and does what a real portal's agents
would have done by now. It is idempotent: running it twice in a row changes nothing the second
time, and two runs at once never tell anyone twice (each notice is claimed with a conditional
update before it is sent).

Task deadlines (kinds ``task_deadline_soon`` and ``task_overdue``, see simulator.im.notices):
- a task waiting or in progress (status 2 or 3) whose deadline is less than
  :data:`DEADLINE_SOON` ahead gets one "deadline soon" notice to its responsible. One hour is a
  choice: the portal's "almost overdue" counter uses a day, but a notice a day ahead would
  fire for nearly every task in a busy demo;
- once the deadline has passed, one "overdue" notice to the responsible;
- ``sim_task.deadline_notice`` remembers what was told ('soon', 'overdue'); moving the deadline
  later clears it (tasks.task.update), so the portal warns again about the new deadline.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from simulator.tasks import tables as tasks_tables

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.portal import Simulator

DEADLINE_SOON = timedelta(hours=1)
_OPEN = (2, 3)


def tick(sim: Simulator) -> dict[str, int]:
    """Run every time-driven check once; returns how many notices of each kind were sent."""
    with sim.transaction() as ctx:
        return {"task_overdue": _overdue(ctx), "task_deadline_soon": _deadline_soon(ctx)}


def _claim(ctx: Ctx, task_id: int, previous: str | None, notice: str) -> bool:
    """Mark the task as told, unless someone else just did."""
    t = tasks_tables.tasks
    current = t.c.deadline_notice.is_(None) if previous is None else \
        t.c.deadline_notice == previous
    return bool(ctx.conn.execute(t.update().where(t.c.id == task_id, current)
                                 .values(deadline_notice=notice)).rowcount)


def _overdue(ctx: Ctx) -> int:
    t = tasks_tables.tasks
    rows = ctx.conn.execute(select(t).where(
        t.c.status.in_(_OPEN), t.c.deadline.is_not(None), t.c.deadline <= ctx.now,
        or_(t.c.deadline_notice.is_(None), t.c.deadline_notice != "overdue"),
    ).order_by(t.c.id)).all()
    sent = 0
    for row in rows:
        if not _claim(ctx, row.id, row.deadline_notice, "overdue"):
            continue
        ctx.notify(row.responsible_id,
                   f'The task "{row.title}" is overdue: its deadline was '
                   f"{ctx.iso(row.deadline)}", kind="task_overdue", entity_type="TASK",
                   entity_id=row.id)
        sent += 1
    return sent


def _deadline_soon(ctx: Ctx) -> int:
    t = tasks_tables.tasks
    rows = ctx.conn.execute(select(t).where(
        t.c.status.in_(_OPEN), t.c.deadline > ctx.now,
        t.c.deadline <= ctx.now + DEADLINE_SOON, t.c.deadline_notice.is_(None),
    ).order_by(t.c.id)).all()
    sent = 0
    for row in rows:
        if not _claim(ctx, row.id, None, "soon"):
            continue
        ctx.notify(row.responsible_id,
                   f'The deadline of the task "{row.title}" is near: {ctx.iso(row.deadline)}',
                   kind="task_deadline_soon", entity_type="TASK", entity_id=row.id)
        sent += 1
    return sent

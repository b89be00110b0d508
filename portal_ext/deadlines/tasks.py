"""The deadline guard's jobs:

- ``sweep_portal``: over REST, read the tasks whose events came and settle them against the
  snapshot (deadlines.detection); queued by the task events' handler, at most one waiting per
  portal (``SWEEP_QUEUED``). While a burst of events is still arriving it takes only whole
  batches of 50 and queues itself again after ``SWEEP_POLL_SECONDS``, behind the events queued
  meanwhile, instead of holding the worker (the embedded worker runs the events' jobs too);
  ``DEADLINE_SWEEP_SETTLE_SECONDS`` and ``DEADLINE_SWEEP_MAX_WAIT_SECONDS`` bound the wait.
  With the inline runner (the events' jobs run in the caller) it sweeps at once;
- ``resync_portal``: over REST, read every open task and settle it (catches what changed while
  the extension was down, keeps the flags);
- ``record_veto``: the audit of an attempt the on-site veto refused (off the portal's path);
- ``deadlines_tick`` (periodic): escalate the requests nobody answered in time; on a cloud
  portal, sweep the tasks a refused sweep left pending and resync every
  ``DEADLINE_RESYNC_MINUTES``.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import select

from portal_ext import jobs
from portal_ext.context import for_job
from portal_ext.extensions import db
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

if TYPE_CHECKING:
    from portal_ext.deadlines.detection import Settle

log = logging.getLogger(__name__)

SWEEP_QUEUED = jobs.QueuedOnce("deadline_sweep")
SWEEP_POLL_SECONDS = 0.1


def _settle() -> Settle:
    from portal_ext.deadlines import detection

    if current_app.config.get("TASK_RUNNER") == "inline":
        return detection.Settle()
    window = float(current_app.config.get("DEADLINE_SWEEP_SETTLE_SECONDS") or 0)
    return detection.Settle(window=window, most=float(
        current_app.config.get("DEADLINE_SWEEP_MAX_WAIT_SECONDS") or window))


@jobs.job(name="portal_ext.deadlines.tasks.sweep_portal")
def sweep_portal(portal_id: int) -> dict[str, int]:
    from portal_ext.deadlines import detection

    SWEEP_QUEUED.unmark(current_app, portal_id)
    ctx = for_job(portal_id)
    if ctx is None or not detection.guards_over_rest(ctx.portal):
        return {}
    try:
        done = detection.sweep(ctx, _settle())
        if done.get("waiting"):  # a burst still settling: again shortly, behind its events
            time.sleep(SWEEP_POLL_SECONDS)
            if SWEEP_QUEUED.mark(current_app._get_current_object(),  # type: ignore[attr-defined]
                                 portal_id):
                jobs.enqueue(sweep_portal, portal_id)
        return done
    except PortalError as exc:  # the tasks stay pending: the next event or resync reads them
        db.session.rollback()
        log.warning("deadline sweep of portal %s: %s", portal_id, exc)
        return {"portal_error": 1}


@jobs.job(name="portal_ext.deadlines.tasks.record_veto")
def record_veto(portal_id: int, task: dict[str, Any], actor_id: int, new: str | None,
                at: str) -> None:
    from portal_ext.deadlines import services

    portal = db.session.get(Portal, portal_id)
    if portal is not None:
        services.record_veto(portal, task, actor_id=actor_id, new=new, at=at)


@jobs.job(name="portal_ext.deadlines.tasks.resync_portal")
def resync_portal(portal_id: int) -> dict[str, int]:
    from portal_ext.deadlines import detection

    ctx = for_job(portal_id)
    if ctx is None or not detection.guards_over_rest(ctx.portal):
        return {}
    from portal_ext.deadlines import services

    services.forget_setup()  # a policy change queues this: decide by what is stored now
    try:
        state = detection.resync(ctx)
    except PortalError as exc:
        db.session.rollback()
        log.warning("deadline resync of portal %s: %s", portal_id, exc)
        return {"portal_error": 1}
    return {"tasks": state.tasks, "reverted": state.reverted}


@jobs.periodic(name="portal_ext.deadlines.tasks.deadlines_tick")
def deadlines_tick() -> dict[int, dict[str, int]]:
    from portal_ext.deadlines import detection, services

    results: dict[int, dict[str, int]] = {}
    every = timedelta(minutes=float(current_app.config.get("DEADLINE_RESYNC_MINUTES") or 60))
    for portal_id in list(db.session.scalars(select(Portal.id).order_by(Portal.id))):
        try:
            ctx = for_job(portal_id)
            if ctx is None:
                continue
            done = {"escalated": len(services.escalate_overdue(ctx))}
            if detection.guards_over_rest(ctx.portal):
                if detection.has_pending(ctx.portal):  # left by a sweep the portal refused
                    done.update(sweep_portal(portal_id))
                state = detection.sync_state(ctx.portal)
                if state is None or state.started_at is None \
                        or state.started_at + every <= ctx.now:
                    done.update(resync_portal(portal_id))
            results[portal_id] = done
        except Exception:
            db.session.rollback()
            log.exception("deadline tick failed for portal %s", portal_id)
    return results

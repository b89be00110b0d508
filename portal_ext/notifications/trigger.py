"""Draining the outbox soon after copies are recorded, without one drain per notification.

The fan-out runs inside another transaction (an inbox event's processing), so it only marks
the session (:func:`request_drain`); when that session commits, a drain is scheduled. Rows are
never sent before they are committed, and a rolled-back transaction schedules nothing.

How the drain is scheduled depends on the task runner (portal_ext.jobs):

- ``inline``: run now, in a fresh app context (own session; the committing one can no longer
  emit SQL);
- ``thread``: queue one drain per portal; while it waits in the queue, further commits queue
  nothing more (the drain takes everything due when it runs, 50 at a time);
- ``celery``: the same coalescing across worker processes with a Redis key
  (``SET NX`` with a short expiry, deleted when the drain starts).

Whatever is missed (a lost task, a crash) is drained by the periodic tick.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal_ext import jobs
from portal_ext.extensions import db

log = logging.getLogger(__name__)

_SESSION_KEY = "portal_ext.notifications.drain"
_QUEUED = jobs.QueuedOnce("drain")


def request_drain(portal_id: int) -> None:
    """Drain ``portal_id``'s outbox once the current transaction commits."""
    db.session.info.setdefault(_SESSION_KEY, set()).add(portal_id)


def schedule_drain(app: Flask, portal_id: int) -> None:
    from portal_ext.notifications.tasks import drain_outbox_job

    if isinstance(jobs.runner_for(app), jobs.InlineRunner) or _QUEUED.mark(app, portal_id):
        with app.app_context():
            jobs.enqueue(drain_outbox_job, portal_id)


def drain_started(app: Flask, portal_id: int) -> None:
    """Called as a drain begins: commits from now on schedule another one."""
    _QUEUED.unmark(app, portal_id)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    portals = session.info.pop(_SESSION_KEY, None)
    if not portals or not has_app_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for portal_id in sorted(portals):
        try:
            schedule_drain(app, portal_id)
        except Exception:  # the periodic tick drains it anyway
            log.exception("could not schedule the drain of portal %s", portal_id)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)

"""Draining the outbox soon after copies are recorded, without one drain per notification.

The fan-out runs inside another transaction (an inbox event's processing), so it only asks for
a drain once that transaction commits (:func:`request_drain`, through
portal_ext.jobs.enqueue_after_commit). Rows are never sent before they are committed, and a
rolled-back transaction schedules nothing.

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

from flask import Flask

from portal_ext import jobs

_QUEUED = jobs.QueuedOnce("drain")


def request_drain(portal_id: int) -> None:
    """Drain ``portal_id``'s outbox once the current transaction commits."""
    from portal_ext.notifications.tasks import drain_outbox_job

    jobs.enqueue_after_commit(drain_outbox_job, portal_id, once=_QUEUED)


def drain_started(app: Flask, portal_id: int) -> None:
    """Called as a drain begins: commits from now on schedule another one."""
    _QUEUED.unmark(app, portal_id)

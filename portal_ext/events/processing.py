"""Processing inbox rows: claim, run the handlers, mark done, in a way that survives crashes.

1. Claim: ``UPDATE ... SET state='processing', claim_token=? WHERE state='pending' AND id IN
   (...)`` (committed): the job's own row and, with it, up to ``BATCH_SIZE`` other due rows of
   the portal whose events have only batch handlers or none (``handlers.handles_batch``; on
   PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps concurrent workers apart). Only one worker
   wins a row; a redelivered task finds its row taken or done and does nothing (one read).
   Rows with per-event handlers are claimed only by their own job, so workers share them.
2. Run the handlers and mark the rows done in **one** transaction per slice, guarded by the
   claim token: a slice is a run of rows of one event name with batch handlers (each called
   once with all of them; rows without handlers ride along), or one row with per-event
   handlers. If the lease was taken back meanwhile (reconcile), nothing of this attempt is
   kept. The lease of the rows still waiting is renewed with each slice's commit.
3. On an exception: roll back the slice's effects. A slice of several rows is then processed
   again one row at a time, so one bad event does not hold the others back; a single row goes
   back to pending with a backoff delay, or ``failed`` after EVENT_MAX_ATTEMPTS.
4. ``reconcile_events`` (periodic) re-queues rows whose worker died (processing past the lease),
   rows whose retry time came, and rows whose queued task was lost.

Two clocks: claims, leases and retry times follow the host's clock
(``portal_ext.portal.clock.host_utcnow``); handlers get the portal's time as ``now``, read once
per claimed batch (``portal_ext.context.for_portal``), since what they decide (is an absence
current, when was a user dismissed) is decided by the portal's clock.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, or_, select, update

from portal_ext import jobs
from portal_ext.context import Context, for_portal
from portal_ext.events.handlers import batch_handlers_for, handlers_for, per_event_names
from portal_ext.events.models import DONE, FAILED, PENDING, PROCESSING, InboxEvent
from portal_ext.events.portal_event import PortalEvent
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 600.0
RECONCILE_BATCH = 500
BATCH_SIZE = 200  # rows one job claims at most


def _update(*where: Any, **values: Any) -> int:
    result = db.session.execute(update(InboxEvent).where(*where).values(**values)
                                .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _due(now: datetime) -> Any:
    return and_(InboxEvent.state == PENDING,
                or_(InboxEvent.next_attempt_at.is_(None), InboxEvent.next_attempt_at <= now))


@jobs.job(name="portal_ext.events.processing.process_event")
def process_event(inbox_id: int) -> str:
    """Process one inbox row (and the batchable rows due with it); returns the row's outcome:
    done, retry, failed, lost or skipped (not claimable)."""
    return process_batch(inbox_id).get(inbox_id, "skipped")


def process_batch(inbox_id: int, *, size: int = BATCH_SIZE) -> dict[int, str]:
    """Claim ``inbox_id`` with up to ``size - 1`` batchable due rows and process them; returns
    the outcome of every row claimed (nothing when ``inbox_id`` is not claimable)."""
    now = host_utcnow()
    head = db.session.execute(select(InboxEvent.portal_id).where(
        InboxEvent.id == inbox_id, _due(now))).first()
    if head is None:
        db.session.rollback()  # ends the read: nothing of it is kept
        return {}
    return _claim_and_process(int(head.portal_id), now=now, head=inbox_id, size=size)


@jobs.job(name="portal_ext.events.processing.process_due")
def process_due(portal_id: int) -> dict[str, int]:
    """Process up to ``BATCH_SIZE`` of the portal's due batchable rows (queued once for many
    new rows, see :func:`queue_processing`); a full batch queues the next one behind the jobs
    already waiting (a drain, say). Returns counts by outcome."""
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _QUEUED.unmark(app, portal_id)
    outcomes = _claim_and_process(portal_id, now=host_utcnow(), head=None, size=BATCH_SIZE)
    if len(outcomes) >= BATCH_SIZE and _QUEUED.mark(app, portal_id):
        jobs.enqueue(process_due, portal_id)
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _claim_and_process(portal_id: int, *, now: datetime, head: int | None, size: int
                       ) -> dict[int, str]:
    token = uuid.uuid4().hex
    due = and_(InboxEvent.portal_id == portal_id, _due(now))
    batchable: Any = InboxEvent.event_name.not_in(sorted(per_event_names()))
    order: list[Any] = [InboxEvent.id]
    if head is not None:
        batchable = or_(InboxEvent.id == head, batchable)
        order.insert(0, case((InboxEvent.id == head, 0), else_=1))
    ids = (select(InboxEvent.id).where(due, batchable).order_by(*order).limit(size)
           .with_for_update(skip_locked=True))
    claimed = _update(InboxEvent.id.in_(ids.scalar_subquery()), due, state=PROCESSING,
                      claim_token=token, claimed_at=now, attempts=InboxEvent.attempts + 1)
    db.session.commit()
    if not claimed:
        return {}
    rows = list(db.session.scalars(select(InboxEvent).where(InboxEvent.claim_token == token)
                                   .order_by(InboxEvent.id)))
    portal = db.session.get(Portal, portal_id)
    if not rows or portal is None:
        return {}
    events = [PortalEvent.from_inbox(row) for row in rows]
    work = _Work(token=token, ctx=for_portal(portal))
    outcomes: dict[int, str] = {}
    start = 0
    while start < len(events):
        chunk = _slice(events, start)
        start += len(chunk)
        outcomes.update(_process_slice(work, chunk, rest=[e.inbox_id for e in events[start:]]))
    return outcomes


# -- queueing -----------------------------------------------------------------------------------
def queue_processing(inbox_id: int, *, event_name: str, portal_id: int) -> None:
    """Queue the processing of a row just stored (and committed). A row with per-event handlers
    gets its own job; the others share one :func:`process_due` per portal while it waits in
    the queue (it claims everything due when it starts), so a burst of events costs a few jobs,
    not one per event. The inline runner processes each row at once."""
    from flask import current_app as app

    flask_app = app._get_current_object()  # type: ignore[attr-defined]
    if event_name.upper() in per_event_names() or isinstance(jobs.runner_for(flask_app),
                                                             jobs.InlineRunner):
        jobs.enqueue(process_event, inbox_id)
    elif _QUEUED.mark(flask_app, portal_id):
        jobs.enqueue(process_due, portal_id)


# One process_due job waiting per portal (its Redis mark expires after 5 s should the job be
# lost; the reconcile tick takes what it left).
_QUEUED = jobs.QueuedOnce("inbox")


@dataclass(frozen=True)
class _Work:
    token: str
    ctx: Context  # the portal, its client and the portal's time handed to the handlers


def _slice(events: list[PortalEvent], start: int) -> list[PortalEvent]:
    """The rows processed in one transaction from ``start``: a run of one batch-handled event
    name (handler-less rows anywhere in it), or one row with per-event handlers."""
    name: str | None = None
    end = start
    while end < len(events):
        event = events[end]
        per_event, batch = handlers_for(event.name), batch_handlers_for(event.name)
        if per_event:
            if end == start:
                end += 1
            break
        if batch:
            if name is None:
                name = event.name
            elif event.name != name:
                break
        end += 1
    return events[start:end]


def _run(events: list[PortalEvent], work: _Work) -> None:
    with db.session.no_autoflush:
        name = next((e.name for e in events if batch_handlers_for(e.name)), None)
        if name is not None:
            group = [e for e in events if e.name == name]
            for batch_handler in batch_handlers_for(name):
                batch_handler(group, portal=work.ctx.portal, client=work.ctx.client,
                              now=work.ctx.now)
        for event in events:
            for handler in handlers_for(event.name, event.source):
                handler(event, portal=work.ctx.portal, client=work.ctx.client, now=work.ctx.now)


def _process_slice(work: _Work, events: list[PortalEvent], *, rest: list[Any]
                   ) -> dict[int, str]:
    ids = [int(e.inbox_id or 0) for e in events]
    try:
        _run(events, work)
        finished = _update(InboxEvent.id.in_(ids), InboxEvent.state == PROCESSING,
                           InboxEvent.claim_token == work.token,
                           state=DONE, processed_at=host_utcnow(), error=None, claim_token=None,
                           next_attempt_at=None)
        if finished != len(ids):
            # A lease was taken back (we were presumed dead): keep nothing of this attempt.
            db.session.rollback()
            return _after_lost_lease(work, events, rest=rest)
        if rest:  # the rows still waiting for this worker: renew their lease
            _update(InboxEvent.id.in_(rest), InboxEvent.claim_token == work.token,
                    claimed_at=host_utcnow())
        db.session.commit()
        return dict.fromkeys(ids, "done")
    except Exception as exc:
        db.session.rollback()
        if len(events) > 1:
            log.warning("inbox %s..%s: a batch of %d failed (%s); one at a time", ids[0],
                        ids[-1], len(ids), exc)
            outcomes: dict[int, str] = {}
            for number, event in enumerate(events):
                outcomes.update(_process_slice(work, [event],
                                               rest=ids[number + 1:] + list(rest)))
            return outcomes
        log.warning("inbox %s (%s) failed: %s", ids[0], events[0].name, exc, exc_info=True)
        return {ids[0]: _record_failure(ids[0], work.token, exc)}


def _after_lost_lease(work: _Work, events: list[PortalEvent], *, rest: list[Any]
                      ) -> dict[int, str]:
    ids = [int(e.inbox_id or 0) for e in events]
    ours = set(db.session.scalars(select(InboxEvent.id).where(
        InboxEvent.id.in_(ids), InboxEvent.state == PROCESSING,
        InboxEvent.claim_token == work.token)))
    db.session.rollback()
    outcomes: dict[int, str] = {}
    for number, event in enumerate(events):
        if ids[number] not in ours:
            log.warning("inbox %s: lease lost, attempt discarded", ids[number])
            outcomes[ids[number]] = "lost"
        elif len(events) > 1:
            outcomes.update(_process_slice(work, [event], rest=ids[number + 1:] + list(rest)))
        else:  # a single row the guarded update could not finish: keep nothing of it
            outcomes[ids[number]] = "lost"
    return outcomes


def _record_failure(inbox_id: int, token: str, exc: Exception) -> str:
    row = db.session.get(InboxEvent, inbox_id)
    if row is None:
        return "skipped"
    attempts = row.attempts
    config = current_app.config
    error = f"{type(exc).__name__}: {exc}"[:2000]
    now = host_utcnow()
    if attempts >= int(config["EVENT_MAX_ATTEMPTS"]):
        state, next_at = FAILED, None
    else:
        delay = min(float(config["EVENT_RETRY_BASE_SECONDS"]) * 2 ** (attempts - 1),
                    MAX_BACKOFF_SECONDS)
        state, next_at = PENDING, now + timedelta(seconds=delay)
    _update(InboxEvent.id == inbox_id, InboxEvent.claim_token == token,
            state=state, error=error, claim_token=None, next_attempt_at=next_at,
            processed_at=now if state == FAILED else None)
    db.session.commit()
    return "failed" if state == FAILED else "retry"


@jobs.periodic(name="portal_ext.events.processing.reconcile_events")
def reconcile_events() -> int:
    """Re-queue what is stuck; returns how many rows were queued."""
    return reconcile(now=host_utcnow())


def reconcile(*, now: datetime, stuck_after: float | None = None) -> int:
    config = current_app.config
    stuck_after = float(config["EVENT_STUCK_SECONDS"] if stuck_after is None else stuck_after)
    cutoff = now - timedelta(seconds=stuck_after)
    max_attempts = int(config["EVENT_MAX_ATTEMPTS"])
    lease_over = and_(InboxEvent.state == PROCESSING, InboxEvent.claimed_at < cutoff)
    # A row that keeps killing its worker stops being retried.
    _update(lease_over, InboxEvent.attempts >= max_attempts, state=FAILED, claim_token=None,
            error="the worker processing it stopped (lease expired)", processed_at=now)
    _update(lease_over, state=PENDING, claim_token=None, next_attempt_at=now,
            error="the worker processing it stopped (lease expired)")
    db.session.commit()
    due = or_(InboxEvent.next_attempt_at <= now,
              and_(InboxEvent.next_attempt_at.is_(None), InboxEvent.received_at < cutoff))
    ids = list(db.session.scalars(select(InboxEvent.id)
                                  .where(InboxEvent.state == PENDING, due)
                                  .order_by(InboxEvent.id).limit(RECONCILE_BATCH)))
    if ids:  # due now, by this tick's clock: let the claim take them
        _update(InboxEvent.id.in_(ids), InboxEvent.state == PENDING, next_attempt_at=None)
        db.session.commit()
    for inbox_id in ids:
        jobs.enqueue(process_event, inbox_id)
    if ids:
        log.info("reconcile: queued %d inbox rows", len(ids))
    return len(ids)


def process_pending(*, limit: int | None = None) -> dict[str, int]:
    """Process every due pending row here and now (the ``events process`` command)."""
    counts: dict[str, int] = {}
    seen: set[int] = set()
    while limit is None or len(seen) < limit:
        now = host_utcnow()
        ids = [i for i in db.session.scalars(
            select(InboxEvent.id).where(_due(now)).order_by(InboxEvent.id).limit(100))
            if i not in seen]
        if not ids:
            break
        for inbox_id in ids:
            if inbox_id in seen:
                continue
            left = None if limit is None else limit - len(seen)
            if left is not None and left <= 0:
                break
            outcomes = process_batch(inbox_id, size=BATCH_SIZE if left is None
                                     else min(BATCH_SIZE, left)) or {inbox_id: "skipped"}
            for row_id, outcome in outcomes.items():
                seen.add(row_id)
                counts[outcome] = counts.get(outcome, 0) + 1
    return counts

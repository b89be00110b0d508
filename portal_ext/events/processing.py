"""Processing inbox rows: claim, run the handlers, mark done, in a way that survives crashes.

1. Claim: ``UPDATE ... SET state='processing' WHERE id=? AND state='pending'`` (committed).
   Only one worker wins; a redelivered task finds the row taken or done and does nothing.
2. Run the handlers and mark the row done in **one** transaction, guarded by the claim token:
   if the lease was taken back meanwhile (reconcile), nothing of this attempt is kept.
3. On an exception: roll back the handlers' effects, then back to pending with a backoff delay,
   or ``failed`` after EVENT_MAX_ATTEMPTS.
4. ``reconcile_events`` (periodic) re-queues rows whose worker died (processing past the lease),
   rows whose retry time came, and rows whose queued task was lost.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select, update

from portal_ext import jobs
from portal_ext.events.handlers import handlers_for
from portal_ext.events.models import DONE, FAILED, PENDING, PROCESSING, InboxEvent
from portal_ext.events.portal_event import PortalEvent
from portal_ext.extensions import db
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for, utcnow

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 600.0
RECONCILE_BATCH = 500


def _update(*where: Any, **values: Any) -> int:
    result = db.session.execute(update(InboxEvent).where(*where).values(**values)
                                .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@jobs.job
def process_event(inbox_id: int) -> str:
    """Process one inbox row; returns done, retry, failed, lost or skipped (not claimable)."""
    now = utcnow()
    token = uuid.uuid4().hex
    claimed = _update(InboxEvent.id == inbox_id, InboxEvent.state == PENDING,
                      or_(InboxEvent.next_attempt_at.is_(None),
                          InboxEvent.next_attempt_at <= now),
                      state=PROCESSING, claim_token=token, claimed_at=now,
                      attempts=InboxEvent.attempts + 1)
    db.session.commit()
    if not claimed:
        return "skipped"
    row = db.session.get(InboxEvent, inbox_id)
    portal = db.session.get(Portal, row.portal_id) if row is not None else None
    if row is None or portal is None:
        return "skipped"
    event = PortalEvent.from_inbox(row)
    try:
        with db.session.no_autoflush:
            for handler in handlers_for(event.name):
                handler(event, portal=portal, client=client_for(portal), now=now)
        finished = _update(InboxEvent.id == inbox_id, InboxEvent.state == PROCESSING,
                           InboxEvent.claim_token == token,
                           state=DONE, processed_at=utcnow(), error=None, claim_token=None,
                           next_attempt_at=None)
        if finished != 1:
            # Our lease was taken back (we were presumed dead): keep nothing of this attempt.
            db.session.rollback()
            log.warning("inbox %s: lease lost, attempt discarded", inbox_id)
            return "lost"
        db.session.commit()
        return "done"
    except Exception as exc:
        db.session.rollback()
        log.warning("inbox %s (%s) failed: %s", inbox_id, event.name, exc, exc_info=True)
        return _record_failure(inbox_id, token, exc)


def _record_failure(inbox_id: int, token: str, exc: Exception) -> str:
    row = db.session.get(InboxEvent, inbox_id)
    if row is None:
        return "skipped"
    attempts = row.attempts
    config = current_app.config
    error = f"{type(exc).__name__}: {exc}"[:2000]
    now = utcnow()
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


@jobs.periodic
def reconcile_events() -> int:
    """Re-queue what is stuck; returns how many rows were queued."""
    return reconcile(now=utcnow())


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
        now = utcnow()
        ids = [i for i in db.session.scalars(
            select(InboxEvent.id).where(InboxEvent.state == PENDING,
                                        or_(InboxEvent.next_attempt_at.is_(None),
                                            InboxEvent.next_attempt_at <= now))
            .order_by(InboxEvent.id).limit(100)) if i not in seen]
        if not ids:
            break
        for inbox_id in ids[: None if limit is None else limit - len(seen)]:
            seen.add(inbox_id)
            outcome = process_event(inbox_id)
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts

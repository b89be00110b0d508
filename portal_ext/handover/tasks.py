"""Jobs of the move engine (portal_ext.jobs; Celery tasks of the same name).

``apply_batch(batch_id)`` and ``restore_batch(batch_id)`` work through a batch chunk by chunk
for at most ``HANDOVER_JOB_SECONDS``, then queue themselves again: each Celery task stays short,
far inside Redis' visibility timeout (reliability.md §1.2). They take ids and may run twice; the
batch's lease keeps a second copy from touching the same items at the same time.

The periodic tick is level-triggered (ARCHITECTURE "How data flows" 5): it resumes every batch
left ``applying`` or ``restoring`` (a worker killed, a message lost), restores handovers whose
absence is over, even long after (an outage), starts the confirmed handovers waiting for their
absence to begin, and applies the portal-wide handover policy.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import current_app
from sqlalchemy import select

from portal_ext import jobs
from portal_ext.extensions import db
from portal_ext.handover.engine import DEFAULT_LEASE_SECONDS, apply_chunk, restore_chunk
from portal_ext.handover.models import (
    APPLIED,
    APPLYING,
    HANDOVER,
    RESTORED,
    RESTORING,
    TRANSFER,
    MoveBatch,
)
from portal_ext.portal.clock import portal_now
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for

log = logging.getLogger(__name__)


def _setting(name: str, default: float) -> float:
    return float(current_app.config.get(name, default))


def _work(batch_id: int, state: str) -> int:
    batch = db.session.get(MoveBatch, batch_id)
    if batch is None or batch.state != state:
        return 0
    portal = db.session.get(Portal, batch.portal_id)
    if portal is None:
        return 0
    client = client_for(portal)
    step = apply_chunk if state == APPLYING else restore_chunk
    size = int(_setting("HANDOVER_CHUNK_SIZE", 2500))
    lease = _setting("HANDOVER_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)
    budget = time.monotonic() + _setting("HANDOVER_JOB_SECONDS", 20.0)
    done = 0
    while True:
        try:
            if state == RESTORING and "adopt_from" in (batch.options or {}):
                _adopt_new_leads(batch, client)
            processed = step(batch_id, client=client, now=portal_now(client), size=size,
                             lease_seconds=lease)
        except PortalError as exc:
            # The portal is down or refuses for now: the journal is intact, the next tick
            # resumes. Shown on the handover's page meanwhile.
            db.session.rollback()
            log.warning("batch %s: %s; the next tick resumes it", batch_id, exc)
            _note_error(batch_id, str(exc))
            return done
        _note_error(batch_id, None)
        done += processed
        if processed == 0:
            announce_end(batch_id, client)
            return done  # finished, or another worker holds the batch
        if time.monotonic() >= budget:
            jobs.enqueue(apply_batch if state == APPLYING else restore_batch, batch_id)
            return done


def _adopt_new_leads(batch: MoveBatch, client: Any) -> None:
    """A handover settled when its absence was deleted: adopt the deputy's new leads for the
    owner's clients (what ``restore_handover`` does first) before giving things back."""
    from portal_ext.handover.new_leads import adopt_new_leads

    if (batch.options or {}).get("include_new_leads"):
        adopt_new_leads(batch, client=client, now=portal_now(client))
    batch.options = {k: v for k, v in (batch.options or {}).items() if k != "adopt_from"}
    db.session.commit()


def _note_error(batch_id: int, error: str | None) -> None:
    batch = db.session.get(MoveBatch, batch_id)
    if batch is not None and batch.error != (error[:500] if error else None):
        batch.error = error[:500] if error else None
        db.session.commit()


def announce_end(batch_id: int, client: Any) -> None:
    """A run finished: one summary to each person concerned (portal_ext.handover.summary);
    the notice's tag makes a second one for the same run replace the first on the portal."""
    from portal_ext.handover.summary import send_summaries

    batch = db.session.get(MoveBatch, batch_id)
    if batch is not None and batch.kind in (HANDOVER, TRANSFER) \
            and batch.state in (APPLIED, RESTORED):
        send_summaries(batch, client=client)


@jobs.job(name="portal_ext.handover.tasks.apply_batch")
def apply_batch(batch_id: int) -> int:
    """Move the batch's planned items (chunk after chunk); returns how many were processed."""
    return _work(batch_id, APPLYING)


@jobs.job(name="portal_ext.handover.tasks.restore_batch")
def restore_batch(batch_id: int) -> int:
    """Give the batch's moved items back (chunk after chunk)."""
    return _work(batch_id, RESTORING)


def resume_batches(portal_id: int) -> dict[str, int]:
    """Queue every batch left applying or restoring whose lease is free."""
    from portal_ext.handover.engine import _host_now

    counts = {"resumed": 0}
    stalled = db.session.scalars(select(MoveBatch).where(
        MoveBatch.portal_id == portal_id, MoveBatch.state.in_((APPLYING, RESTORING)),
        (MoveBatch.lease_until.is_(None)) | (MoveBatch.lease_until < _host_now())))
    for batch in list(stalled):
        jobs.enqueue(apply_batch if batch.state == APPLYING else restore_batch, batch.id)
        counts["resumed"] += 1
    return counts


@jobs.periodic(name="portal_ext.handover.tasks.handover_tick")
def handover_tick() -> dict[int, dict[str, Any]]:
    from portal_ext.handover.policy import apply_policy, restore_due
    from portal_ext.handover.services import start_scheduled

    results: dict[int, dict[str, Any]] = {}
    for portal_id in list(db.session.scalars(select(Portal.id).order_by(Portal.id))):
        try:
            portal = db.session.get(Portal, portal_id)
            assert portal is not None
            client = client_for(portal)
            now = portal_now(client)
            counts: dict[str, Any] = dict(restore_due(portal=portal, now=now))
            counts.update(start_scheduled(portal=portal, now=now))
            counts.update(apply_policy(portal=portal, client=client, now=now))
            counts.update(resume_batches(portal_id))
            results[portal_id] = counts
        except Exception:
            db.session.rollback()
            log.exception("handover tick failed for portal %s", portal_id)
    return results

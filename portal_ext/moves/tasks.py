"""Jobs of the move engine (portal_ext.jobs; Celery tasks of the same name).

``apply_batch(batch_id)`` and ``restore_batch(batch_id)`` work through a batch chunk by chunk
for at most ``HANDOVER_JOB_SECONDS``, then queue themselves again: each Celery task stays short,
far inside Redis' visibility timeout (reliability.md §1.2). They take ids and may run twice; the
batch's lease keeps a second copy from touching the same items at the same time. Their task
names are pinned (they were first defined in ``portal_ext.handover.tasks``): messages already
queued under those names keep working.

:func:`resume_batches` queues again every batch left ``applying`` or ``restoring`` whose lease
ran out (a worker killed, a message lost); the domains' periodic ticks call it.
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from sqlalchemy import select

from portal_ext import jobs
from portal_ext.extensions import db
from portal_ext.moves.engine import DEFAULT_LEASE_SECONDS, apply_chunk, restore_chunk
from portal_ext.moves.models import APPLIED, APPLYING, RESTORED, RESTORING, MoveBatch
from portal_ext.moves.services import steps_for
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import host_utcnow, portal_now
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
    before = steps_for(batch.kind).before_restoring if state == RESTORING else None
    size = int(_setting("HANDOVER_CHUNK_SIZE", 2500))
    lease = _setting("HANDOVER_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)
    budget = time.monotonic() + _setting("HANDOVER_JOB_SECONDS", 20.0)
    done = 0
    while True:
        try:
            if before is not None:
                before(batch, client)
            processed = step(batch_id, client=client, now=portal_now(client), size=size,
                             lease_seconds=lease)
        except PortalError as exc:
            # The portal is down or refuses for now: the journal is intact, the next tick
            # resumes. Shown on the batch's page meanwhile.
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


def _note_error(batch_id: int, error: str | None) -> None:
    batch = db.session.get(MoveBatch, batch_id)
    if batch is not None and batch.error != (error[:500] if error else None):
        batch.error = error[:500] if error else None
        db.session.commit()


def announce_end(batch_id: int, client: PortalClient) -> None:
    """A run finished: the domain of the batch's kind hears of it (its ``finished`` step)."""
    batch = db.session.get(MoveBatch, batch_id)
    if batch is None or batch.state not in (APPLIED, RESTORED):
        return
    finished = steps_for(batch.kind).finished
    if finished is not None:
        finished(batch, client)


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
    counts = {"resumed": 0}
    stalled = db.session.scalars(select(MoveBatch).where(
        MoveBatch.portal_id == portal_id, MoveBatch.state.in_((APPLYING, RESTORING)),
        (MoveBatch.lease_until.is_(None)) | (MoveBatch.lease_until < host_utcnow())))
    for batch in list(stalled):
        jobs.enqueue(apply_batch if batch.state == APPLYING else restore_batch, batch.id)
        counts["resumed"] += 1
    return counts

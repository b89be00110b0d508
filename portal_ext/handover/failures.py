"""Items a run could not move, what the portal said about them, and trying them again.

A run (applying a batch, or giving it back) that ends with items the portal refused ends in
its usual state (``applied``, ``restored``) with ``failed`` items: pages and the API show
both ("undone, 5 failed") and offer to retry just those items. The portal's refusal is kept
as plain text (its HTML, such as ``<br>``, removed) and, for the refusals the extension
knows, explained in the reader's language.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from portal_ext import jobs
from portal_ext.extensions import db
from portal_ext.handover.engine import start_phase
from portal_ext.handover.models import (
    APPLIED,
    APPLYING,
    FAILED_ITEM,
    MOVED,
    PLANNED,
    RESTORED,
    RESTORING,
    MoveBatch,
    MoveItem,
)
from portal_ext.handover.portal_text import clean, explained

__all__ = ["NothingToRetry", "clean", "explained", "failed_count", "retry_failed"]

def _failed_in_run(batch: MoveBatch) -> Any:
    """Failed items of the batch's last run: a give-back's (items that had moved), else the
    move's (items that never moved)."""
    restoring = batch.state in (RESTORING, RESTORED)
    moved = MoveItem.moved_at.is_not(None) if restoring else MoveItem.moved_at.is_(None)
    return (MoveItem.batch_id == batch.id) & (MoveItem.state == FAILED_ITEM) & moved


def failed_count(batch: MoveBatch) -> int:
    return int(db.session.scalar(select(func.count()).select_from(MoveItem)
                                 .where(_failed_in_run(batch))) or 0)


def failed_counts(batches: list[MoveBatch]) -> dict[int, int]:
    """``failed_count`` of each finished batch of a listing, in one query."""
    finished = {b.id: b for b in batches if b.state in (APPLIED, RESTORED)}
    if not finished:
        return {}
    had_moved = MoveItem.moved_at.is_not(None)
    out: dict[int, int] = {}
    for batch_id, moved, count in db.session.execute(
            select(MoveItem.batch_id, had_moved, func.count()).where(
                MoveItem.batch_id.in_(list(finished)), MoveItem.state == FAILED_ITEM)
            .group_by(MoveItem.batch_id, had_moved)):
        if bool(moved) == (finished[batch_id].state == RESTORED):
            out[batch_id] = out.get(batch_id, 0) + int(count)
    return out


class NothingToRetry(ValueError):
    """The batch is not finished, or its last run left no failed item."""


def retry_failed(batch: MoveBatch) -> int:
    """Put the last run's failed items back in the queue and run it again (committed; the
    job is queued); how many. Raises NothingToRetry."""
    from portal_ext.handover.tasks import apply_batch, restore_batch

    if batch.state not in (APPLIED, RESTORED):
        raise NothingToRetry(batch.state)
    restoring = batch.state == RESTORED
    again = db.session.execute(  # type: ignore[attr-defined]
        update(MoveItem).where(_failed_in_run(batch))
        .values(state=MOVED if restoring else PLANNED, note=None)
        .execution_options(synchronize_session=False)).rowcount
    if not again:
        db.session.rollback()
        raise NothingToRetry(batch.state)
    if restoring:
        batch.restored_at = None
    start_phase(batch, RESTORING if restoring else APPLYING)
    db.session.commit()
    jobs.enqueue(restore_batch if restoring else apply_batch, batch.id)
    return int(again)

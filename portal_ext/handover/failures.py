"""Items a run could not move, what the portal said about them, and trying them again.

A run (applying a batch, or giving it back) that ends with items the portal refused ends in
its usual state (``applied``, ``restored``) with ``failed`` items: pages and the API show
both ("undone, 5 failed") and offer to retry just those items. The portal's refusal is kept
as plain text (its HTML, such as ``<br>``, removed) and, for the refusals the extension
knows, explained in the reader's language.
"""

from __future__ import annotations

from sqlalchemy import func, select

from portal_ext.extensions import db
from portal_ext.moves import NothingToRetry, failed_in_run, retry_failed
from portal_ext.moves.models import APPLIED, FAILED_ITEM, RESTORED, MoveBatch, MoveItem
from portal_ext.moves.portal_text import clean, explained

__all__ = ["NothingToRetry", "clean", "explained", "failed_count", "retry_failed"]


def failed_count(batch: MoveBatch) -> int:
    return int(db.session.scalar(select(func.count()).select_from(MoveItem)
                                 .where(failed_in_run(batch))) or 0)


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

"""The move engine: changing the responsible of a user's portal items in bulk, journaled so it
can be resumed after any crash and given back later. Shared by every domain that changes
owners (the absence handover, the dismissal transfer and its automatic mode).

Its public API is :mod:`portal_ext.moves.services` (re-exported here): plan, start applying,
start restoring, progress, and the journal's rows for reports. Only this package writes the
journal's tables (``move_batch``, ``move_item``: portal_ext.moves.models); other modules read
them for their reports (tests/test_layering.py holds the rule).
"""

from __future__ import annotations

from portal_ext.moves.give_back import GivenBack, conflicts, give_back_anyway
from portal_ext.moves.services import (
    KindSteps,
    NothingToRetry,
    cancel,
    discard,
    failed_in_run,
    items_for,
    journal_moved,
    new_batch,
    on_kind,
    plan,
    planned_items,
    planned_successors,
    prepare,
    progress,
    queue_run,
    reassign_planned,
    retry_failed,
    start_applying,
    start_restoring,
    stop_pending,
    take,
)
from portal_ext.moves.tasks import resume_batches

__all__ = ["GivenBack", "KindSteps", "NothingToRetry", "cancel", "conflicts", "discard",
           "failed_in_run", "give_back_anyway", "items_for",
           "journal_moved", "new_batch", "on_kind", "plan", "planned_items", "planned_successors",
           "prepare", "progress", "queue_run", "reassign_planned", "resume_batches",
           "retry_failed", "start_applying",
           "start_restoring", "stop_pending", "take"]

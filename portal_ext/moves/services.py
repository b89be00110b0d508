"""What a domain that changes owners calls: plan a batch, start applying it, start restoring
it, read its progress and its report. The journal (portal_ext.moves.models) is written here and
in the engine only; a domain keeps its own facts about a batch in ``options`` (and names its
``live_key`` and single successor), and reads the journal for its reports.

A batch's life, as the handover and the dismissal transfer drive it::

    batch = new_batch(portal_id=..., kind=TRANSFER, owner_id=..., options={"types": [...]},
                      created_at=now)                # preview, flushed
    plan(batch, client=client, to_user_for=...)      # the items, journaled ``planned``
    db.session.commit()
    start_applying(batch)                            # ``applying``, committed, job queued
    ...
    start_restoring(batch)                           # ``restoring``, committed, job queued

The jobs (portal_ext.moves.tasks) work through a batch chunk by chunk; when a run ends the
domain that owns the batch's kind hears of it (:func:`on_kind`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from portal_ext import jobs
from portal_ext.extensions import db
from portal_ext.moves import engine
from portal_ext.moves.models import (
    APPLIED,
    APPLYING,
    CANCELLED,
    FAILED_ITEM,
    MOVED,
    PLANNED,
    PREVIEW,
    RESTORED,
    RESTORING,
    SKIPPED,
    MoveBatch,
    MoveItem,
)
from portal_ext.moves.portal_fields import ensure_prev_fields
from portal_ext.portal.client import PortalClient

log = logging.getLogger(__name__)

progress = engine.progress
items_for = engine.items_for


# -- what a domain adds to a batch's run ------------------------------------------------------
@dataclass(frozen=True)
class KindSteps:
    """A domain's steps in the runs of its batches (all optional).

    ``before_restoring(batch, client)``: before each chunk of a give-back (e.g. journal what
    reached the successor on its own meanwhile, so that it goes back too); commits its own
    changes. ``finished(batch, client)``: a run ended, the batch is ``applied`` or
    ``restored`` (e.g. tell the people concerned)."""

    before_restoring: Callable[[MoveBatch, PortalClient], None] | None = None
    finished: Callable[[MoveBatch, PortalClient], None] | None = None


_STEPS: dict[str, KindSteps] = {}


def on_kind(kind: str, steps: KindSteps) -> None:
    """Declare a domain's steps for the batches of ``kind`` (the domain's jobs module does
    it, so every process that runs jobs knows them)."""
    _STEPS[kind] = steps


def steps_for(kind: str) -> KindSteps:
    return _STEPS.get(kind) or KindSteps()


# -- planning ---------------------------------------------------------------------------------
def new_batch(*, portal_id: int, kind: str, owner_id: int, options: dict[str, Any],
              created_at: datetime, created_by: int | None = None,
              to_user_id: int | None = None, absence_id: int | None = None,
              live_key: str | None = None) -> MoveBatch:
    """A batch in ``preview``, added and flushed (not committed). ``options["types"]`` lists
    the kinds of items it moves; a second live batch with the same ``live_key`` raises
    IntegrityError here."""
    batch = MoveBatch(portal_id=portal_id, kind=kind, state=PREVIEW, owner_id=owner_id,
                      to_user_id=to_user_id, absence_id=absence_id, live_key=live_key,
                      options=options, created_by=created_by, created_at=created_at,
                      counts={})
    db.session.add(batch)
    db.session.flush()
    return batch


def plan(batch: MoveBatch, *, client: PortalClient,
         to_user_for: Callable[[str, dict[str, Any]], int | None],
         listed: Mapping[str, Iterable[dict[str, Any]]] | None = None) -> dict[str, int]:
    """Journal what the batch moves, each item ``planned`` for the successor
    ``to_user_for(entity_type, row)`` names; the owner's items of the batch's types, or
    ``listed`` (type -> rows the caller found, each moving from whoever holds it). The
    usable count per type; flushes, does not commit (portal_ext.moves.engine.plan_batch)."""
    return engine.plan_batch(batch, client=client, to_user_for=to_user_for, listed=listed)


def planned_successors(batch: MoveBatch) -> list[int]:
    """The people the batch's planned items go to."""
    return list(db.session.scalars(select(MoveItem.to_user_id).where(
        MoveItem.batch_id == batch.id, MoveItem.state == PLANNED).distinct()))


def journal_moved(batch: MoveBatch, entity_type: str, items: Iterable[tuple[int, str | None]],
                  *, now: datetime, note: str | None = None) -> int:
    """Journal items that reached the batch's successor without the engine (``(id, title)``)
    as moved from the owner at ``now``, so that a give-back returns them too; how many (not
    committed)."""
    rows = [{"portal_id": batch.portal_id, "batch_id": batch.id, "entity_type": entity_type,
             "entity_id": entity_id, "from_user_id": batch.owner_id,
             "to_user_id": batch.to_user_id, "state": MOVED, "moved_at": now, "note": note,
             "title": title} for entity_id, title in items]
    if rows:
        db.session.execute(insert(MoveItem.__table__), rows)
    return len(rows)


def prepare(batch: MoveBatch, client: PortalClient) -> None:
    """Make the portal's previous-responsible fields now, before the job starts: the job then
    writes nothing of its own while the portal's events of its writes come in (SQLite: one
    writer). Optional: the job makes them itself otherwise."""
    ensure_prev_fields(batch, client)


# -- starting and stopping ----------------------------------------------------------------------
def take(batch: MoveBatch, *, states: Iterable[str], to: str) -> bool:
    """Move the batch from one of ``states`` to ``to`` unless another request did first
    (a double submission, two ticks): True and the batch refreshed, or False with the
    transaction rolled back (the batch may be gone)."""
    taken = db.session.execute(  # type: ignore[attr-defined]
        update(MoveBatch).where(MoveBatch.id == batch.id, MoveBatch.state.in_(list(states)))
        .values(state=to).execution_options(synchronize_session=False)).rowcount
    if not taken:
        db.session.rollback()
        return False
    db.session.refresh(batch)
    return True


def start_applying(batch: MoveBatch, *, enqueue: bool = True) -> None:
    """Enter ``applying``, commit (with whatever else the caller changed), queue the job
    (``enqueue=False``: the caller drives the engine itself, as the CLI does)."""
    engine.start_phase(batch, APPLYING)
    db.session.commit()
    if enqueue:
        queue_run(batch.id, restoring=False)


def start_restoring(batch: MoveBatch, *, commit: bool = True, enqueue: bool = True) -> None:
    """Enter ``restoring`` (a batch already restoring keeps going), commit and queue the job.
    ``commit=False``: only the state changes, in the caller's transaction; the caller queues
    the job with :func:`queue_run` once it has committed."""
    if batch.state != RESTORING:
        engine.start_phase(batch, RESTORING)
    if not commit:
        return
    db.session.commit()
    if enqueue:
        queue_run(batch.id, restoring=True)


def queue_run(batch_id: int, *, restoring: bool) -> None:
    """Queue the job that applies (or restores) the batch."""
    from portal_ext.moves.tasks import apply_batch, restore_batch

    jobs.enqueue(restore_batch if restoring else apply_batch, batch_id)


def stop_pending(batch: MoveBatch) -> None:
    """What has not moved yet stays where it is: planned items become ``skipped`` (not
    committed)."""
    db.session.execute(update(MoveItem).where(
        MoveItem.batch_id == batch.id, MoveItem.state == PLANNED)
        .values(state=SKIPPED, note=engine.NOTE_STOPPED)
        .execution_options(synchronize_session=False))


def cancel(batch: MoveBatch) -> None:
    """A batch that will not move anything: ``cancelled``, its live key free (not committed)."""
    batch.state, batch.live_key = CANCELLED, None


def discard(batch: MoveBatch) -> None:
    """Delete the batch and its journal (nothing had moved; not committed)."""
    db.session.execute(delete(MoveItem).where(MoveItem.batch_id == batch.id))
    db.session.delete(batch)


class NothingToRetry(ValueError):
    """The batch is not finished, or its last run left no failed item."""


def failed_in_run(batch: MoveBatch) -> Any:
    """A condition on the journal: the failed items of the batch's last run (a give-back's
    had moved; a move's never did)."""
    restoring = batch.state in (RESTORING, RESTORED)
    moved = MoveItem.moved_at.is_not(None) if restoring else MoveItem.moved_at.is_(None)
    return (MoveItem.batch_id == batch.id) & (MoveItem.state == FAILED_ITEM) & moved


def retry_failed(batch: MoveBatch) -> int:
    """Put the last run's failed items back in the queue and run it again (committed; the
    job is queued); how many. Raises NothingToRetry."""
    if batch.state not in (APPLIED, RESTORED):
        raise NothingToRetry(batch.state)
    restoring = batch.state == RESTORED
    again = db.session.execute(  # type: ignore[attr-defined]
        update(MoveItem).where(failed_in_run(batch))
        .values(state=MOVED if restoring else PLANNED, note=None)
        .execution_options(synchronize_session=False)).rowcount
    if not again:
        db.session.rollback()
        raise NothingToRetry(batch.state)
    if restoring:
        batch.restored_at = None
    engine.start_phase(batch, RESTORING if restoring else APPLYING)
    db.session.commit()
    queue_run(batch.id, restoring=restoring)
    return int(again)


def planned_items(batch: MoveBatch) -> list[tuple[str, int, int]]:
    """A preview's planned items as ``(entity type, id, successor)``, in the order they were
    planned."""
    return [(str(t), int(i), int(u)) for t, i, u in db.session.execute(
        select(MoveItem.entity_type, MoveItem.entity_id, MoveItem.to_user_id).where(
            MoveItem.batch_id == batch.id, MoveItem.state == PLANNED).order_by(MoveItem.id))]


def reassign_planned(batch: MoveBatch, changes: Mapping[tuple[str, int], int]) -> int:
    """Give planned items of a batch still in preview to other successors (``(type, id) ->
    successor``); how many changed (not committed)."""
    if batch.state != PREVIEW:
        raise ValueError(f"only a preview's items can be reassigned, not {batch.state}'s")
    changed = 0
    by_successor: dict[int, dict[str, list[int]]] = {}
    for (entity_type, entity_id), user_id in changes.items():
        by_successor.setdefault(int(user_id), {}).setdefault(entity_type, []).append(entity_id)
    for user_id, by_type in by_successor.items():
        for entity_type, ids in by_type.items():
            changed += int(db.session.execute(  # type: ignore[attr-defined]
                update(MoveItem).where(
                    MoveItem.batch_id == batch.id, MoveItem.state == PLANNED,
                    MoveItem.entity_type == entity_type, MoveItem.entity_id.in_(ids))
                .values(to_user_id=user_id)
                .execution_options(synchronize_session=False)).rowcount)
    return changed

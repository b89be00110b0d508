"""The move engine: plan, apply and restore a batch of reassignments through the portal port.

Shared by the absence handover (one deputy) and the dismissal transfer (a strategy per item).

- :func:`plan_batch` lists the owner's items of every chosen type and journals each as
  ``planned`` (bulk insert). Nothing changes on the portal.
- :func:`apply_chunk` moves up to ``size`` planned items; :func:`restore_chunk` gives up to
  ``size`` moved items back. Both re-read the items' current responsible first (one ``batch``
  of ``list`` calls filtered on the ids), decide per item, write through ``batch`` (50
  commands a request, reference §4.1), then journal the outcomes in bulk.

Why this is safe to kill at any point (reliability.md §1.2, §2): the journal row changes only
after the portal write, and a re-run re-reads the portal first. An item the portal already
shows with its new responsible while the journal still says ``planned`` was written just
before a crash: it is marked ``moved`` without a second write (for types with the user field,
only if ``UF_CRM_PREV_RESPONSIBLE`` names the previous owner, so an item a third party handed
to the deputy is not taken for ours). Restore is the mirror image. One worker at a time works
on a batch (a lease with a host-time expiry), so two deliveries of the same job never write
the same item twice.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import case, delete, func, insert, or_, select, update

from portal_ext.extensions import db
from portal_ext.handover.models import (
    APPLIED,
    APPLYING,
    CONFLICT,
    FAILED_ITEM,
    MISSING,
    MOVED,
    PLANNED,
    RESTORED,
    RESTORED_ITEM,
    RESTORING,
    SKIPPED,
    MoveBatch,
    MoveItem,
)
from portal_ext.handover.portal_calls import (
    Command,
    current_rows,
    in_flight,
    list_rows,
    run_batch,
    update_query,
)
from portal_ext.handover.portal_fields import ensure_prev_fields
from portal_ext.handover.types import ENTITY_TYPES, OWNER_PREFIXES
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError

__all__ = ["ENTITY_TYPES", "apply_chunk", "list_rows", "plan_batch", "progress", "restore_chunk",
           "run_batch", "start_phase"]

DEFAULT_LEASE_SECONDS = 120.0
_INSERT_ROWS = 5000  # journal rows per bulk insert
_IN_LIST = 900  # ids per IN (...) list: below SQLite's old 999-variable limit
_NOT_FOUND_CODES = {"NOT_FOUND", "ERROR_NOT_FOUND"}

# Journal notes the report turns into sentences (portal_ext.handover.report); a failed item's
# note is the portal's own error text.
NOTE_HOLDER = "holder:"  # + the portal user id holding the item instead
NOTE_DELETED = "deleted"
NOTE_NO_SUCCESSOR = "no successor"
NOTE_STOPPED = "stopped before this item moved"
NOTE_NEW_LEAD = "new lead during the absence"


# -- planning -------------------------------------------------------------------------------
def plan_batch(batch: MoveBatch, *, client: PortalClient,
               to_user_for: Callable[[str, dict[str, Any]], int | None]) -> dict[str, int]:
    """Journal the owner's items of the batch's types as ``planned`` (replacing an earlier
    plan of this batch); ``to_user_for(entity_type, row)`` names each item's successor (None
    or the owner himself: the item is journaled ``skipped``). Flushes, does not commit."""
    options = batch.options or {}
    counts: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    # Everything is read before anything is written: on SQLite a write transaction held while
    # the portal is called would lock out the portal's own events coming back in-process.
    for name in batch.types:
        kind = ENTITY_TYPES[name]
        filter: dict[str, Any] = {kind.responsible_filter: batch.owner_id}
        if not options.get("include_closed"):
            filter.update(kind.open_filter)
        counts[name] = 0
        for row in list_rows(client, kind, filter):
            successor = _int(to_user_for(name, row))
            usable = successor is not None and successor != batch.owner_id
            rows.append({
                "portal_id": batch.portal_id, "batch_id": batch.id, "entity_type": name,
                "entity_id": kind.row_id(row), "from_user_id": batch.owner_id,
                "to_user_id": successor if usable else batch.owner_id,
                "state": PLANNED if usable else SKIPPED,
                "note": None if usable else NOTE_NO_SUCCESSOR, "title": kind.title(row) or None,
                "owner_ref": _owner_ref(row)})
            counts[name] += 1 if usable else 0
    db.session.execute(delete(MoveItem).where(MoveItem.batch_id == batch.id))
    table = MoveItem.__table__
    for start in range(0, len(rows), _INSERT_ROWS):
        db.session.execute(insert(table), rows[start:start + _INSERT_ROWS])
    batch.counts = counts
    db.session.flush()
    return counts


def _owner_ref(row: Mapping[str, Any]) -> str | None:
    prefix = OWNER_PREFIXES.get(_int(row.get("OWNER_TYPE_ID")) or 0)
    owner = _int(row.get("OWNER_ID"))
    return f"{prefix}_{owner}" if prefix and owner else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# -- the lease ------------------------------------------------------------------------------
def _host_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def claim(batch_id: int, *, seconds: float = DEFAULT_LEASE_SECONDS) -> str | None:
    """Take the batch's lease (committed) unless a live worker holds it; the token or None."""
    token = secrets.token_hex(8)
    now = _host_now()
    taken = db.session.execute(  # type: ignore[attr-defined]
        update(MoveBatch).where(MoveBatch.id == batch_id, or_(
            MoveBatch.lease_until.is_(None), MoveBatch.lease_until < now))
        .values(lease_until=now + timedelta(seconds=seconds), lease_token=token)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return token if taken else None


class LeaseLost(RuntimeError):
    """Another worker took the batch over (this one was presumed dead): stop writing."""


def renew(batch_id: int, token: str, *, seconds: float) -> None:
    """Extend the lease before each portal write, on a connection of its own (the session's
    objects stay loaded; nothing else is written). Raises LeaseLost if it is not ours."""
    with db.engine.begin() as conn:
        kept = conn.execute(update(MoveBatch.__table__).where(
            MoveBatch.__table__.c.id == batch_id, MoveBatch.__table__.c.lease_token == token)
            .values(lease_until=_host_now() + timedelta(seconds=seconds))).rowcount
    if not kept:
        raise LeaseLost(f"batch {batch_id}: another worker holds it now")


def release(batch_id: int, token: str) -> None:
    db.session.execute(update(MoveBatch).where(
        MoveBatch.id == batch_id, MoveBatch.lease_token == token)
        .values(lease_until=None, lease_token=None)
        .execution_options(synchronize_session=False))
    db.session.commit()


# -- applying and restoring -----------------------------------------------------------------
class Pending(NamedTuple):
    """A journal row waiting for its move (or its restore): what a chunk needs of it."""

    id: int
    entity_type: str
    entity_id: int
    from_user_id: int
    to_user_id: int


class _Outcomes:
    """Journal changes collected for one chunk, written in bulk."""

    def __init__(self) -> None:
        self.by_state: dict[tuple[str, str | None], list[int]] = {}

    def add(self, item_id: int, state: str, note: str | None = None) -> None:
        self.by_state.setdefault((state, note), []).append(item_id)

    def write(self, *, stamp: str, now: datetime) -> None:
        for (state, note), ids in self.by_state.items():
            values: dict[str, Any] = {"state": state}
            if state in (MOVED, RESTORED_ITEM):
                values[stamp] = now  # and the note stays (e.g. "new lead during the absence")
            else:
                values["note"] = note
            for start in range(0, len(ids), _IN_LIST):
                db.session.execute(update(MoveItem).where(
                    MoveItem.id.in_(ids[start:start + _IN_LIST])).values(**values)
                    .execution_options(synchronize_session=False))


def apply_chunk(batch_id: int, *, client: PortalClient, now: datetime, size: int = 500,
                lease_seconds: float = DEFAULT_LEASE_SECONDS) -> int:
    """Move up to ``size`` planned items of an ``applying`` batch; how many were processed
    (0: nothing left, or another worker holds the batch). Finishing marks it ``applied``."""
    return _run_chunk(batch_id, client=client, now=now, size=size, restoring=False,
                      lease_seconds=lease_seconds)


def restore_chunk(batch_id: int, *, client: PortalClient, now: datetime, size: int = 500,
                  lease_seconds: float = DEFAULT_LEASE_SECONDS) -> int:
    """Give up to ``size`` moved items of a ``restoring`` batch back to their owner."""
    return _run_chunk(batch_id, client=client, now=now, size=size, restoring=True,
                      lease_seconds=lease_seconds)


def _run_chunk(batch_id: int, *, client: PortalClient, now: datetime, size: int,
               restoring: bool, lease_seconds: float) -> int:
    phase_state, pending_state = (RESTORING, MOVED) if restoring else (APPLYING, PLANNED)
    batch = db.session.get(MoveBatch, batch_id)
    if batch is None or batch.state != phase_state:
        return 0
    token = claim(batch_id, seconds=lease_seconds)
    if token is None:
        return 0
    try:
        db.session.refresh(batch)
        if batch.state != phase_state:
            return 0
        fields = ensure_prev_fields(batch, client) if not restoring else \
            dict((batch.options or {}).get("uf_fields") or {})
        db.session.commit()  # no write transaction may stay open while the portal is called
        items = [Pending(*row) for row in db.session.execute(select(
            MoveItem.id, MoveItem.entity_type, MoveItem.entity_id, MoveItem.from_user_id,
            MoveItem.to_user_id).where(
            MoveItem.batch_id == batch_id, MoveItem.state == pending_state)
            .order_by(MoveItem.id).limit(size))]
        if not items:
            _finish(batch, now=now, restoring=restoring)
            return 0
        outcomes = _Outcomes()

        renewed = [time.monotonic()]

        def heartbeat() -> None:
            # Often enough that the lease never runs out under a live worker; rarely enough
            # that renewing (a commit) costs nothing next to the writes.
            if time.monotonic() - renewed[0] >= lease_seconds / 4:
                renew(batch_id, token, seconds=lease_seconds)
                renewed[0] = time.monotonic()

        _move_items(client, items, fields, outcomes, restoring=restoring, heartbeat=heartbeat)
        outcomes.write(stamp="restored_at" if restoring else "moved_at", now=now)
        _record_pace(batch, len(items))
        db.session.commit()
        return len(items)
    except LeaseLost:
        db.session.rollback()  # the new holder re-reads what this chunk already wrote
        return 0
    except BaseException:
        db.session.rollback()
        raise
    finally:
        release(batch_id, token)


def _move_items(client: PortalClient, items: list[Pending], uf_fields: Mapping[str, Any],
                outcomes: _Outcomes, *, restoring: bool,
                heartbeat: Callable[[], None]) -> None:
    """Re-read, decide and write one chunk, every kind together: the re-read is one request
    per 2,500 items and the writes fill every ``batch`` with 50 commands (under the portal's
    2 requests/s every request counts)."""
    wanted: dict[str, list[int]] = {}
    for item in items:
        wanted.setdefault(item.entity_type, []).append(item.entity_id)
    current = current_rows(client, wanted)
    writes: list[tuple[Pending, Command]] = []
    for item in items:
        kind = ENTITY_TYPES[item.entity_type]
        uf_name = uf_fields.get(item.entity_type)
        row = current.get((item.entity_type, item.entity_id))
        if row is None:
            outcomes.add(item.id, MISSING, NOTE_DELETED)
            continue
        holder = kind.responsible(row)
        giver, taker = (item.to_user_id, item.from_user_id) if restoring else \
            (item.from_user_id, item.to_user_id)
        if holder == giver:
            fields: dict[str, int | str] = {kind.responsible_field: taker}
            if uf_name:
                fields[uf_name] = "" if restoring else item.from_user_id
            writes.append((item, (f"w{item.id}", kind.update_method,
                                  update_query(kind, item.entity_id, fields))))
        elif holder == taker and (restoring or not uf_name
                                  or _int(row.get(uf_name)) == item.from_user_id):
            # Written before a crash, journal not yet updated: no second write.
            outcomes.add(item.id, RESTORED_ITEM if restoring else MOVED)
        elif restoring:
            outcomes.add(item.id, CONFLICT, f"{NOTE_HOLDER}{holder}")
        else:
            outcomes.add(item.id, SKIPPED, f"{NOTE_HOLDER}{holder}")
    if not writes:
        return
    _, errors = run_batch(client, [command for _, command in writes], before_each=heartbeat,
                          parallel=in_flight(client))
    transient = 0
    for item, (key, _method, _params) in writes:
        error = errors.get(key)
        if error is None:
            outcomes.add(item.id, RESTORED_ITEM if restoring else MOVED)
        elif error.transient:
            transient += 1  # stays pending: the next chunk tries again
        elif _is_not_found(error):
            outcomes.add(item.id, MISSING, NOTE_DELETED)
        else:
            outcomes.add(item.id, FAILED_ITEM, (error.description or error.code)[:500])
    if transient == len(writes):
        raise next(iter(e for e in errors.values() if e.transient))


def _is_not_found(error: PortalError) -> bool:
    text = (error.description or "").lower()
    # tasks.task.update answers "Action on the task is not allowed" for a deleted task.
    return error.code in _NOT_FOUND_CODES or "not found" in text or "not allowed" in text


def _finish(batch: MoveBatch, *, now: datetime, restoring: bool) -> None:
    if restoring:
        batch.state, batch.restored_at, batch.live_key = RESTORED, now, None
    else:
        batch.state, batch.applied_at = APPLIED, now
    batch.pace = None
    db.session.commit()


def _record_pace(batch: MoveBatch, processed: int) -> None:
    """Items per second, smoothed over chunks (host time: the portal's clock may stand still)."""
    t = time.time()
    pace = dict(batch.pace or {"t": t, "done": 0, "rate": None})
    elapsed = max(t - float(pace.get("t") or t), 1e-6)
    rate = processed / elapsed
    previous = pace.get("rate")
    pace.update(t=t, done=int(pace.get("done") or 0) + processed,
                rate=rate if previous is None else 0.5 * float(previous) + 0.5 * rate)
    batch.pace = pace


def start_phase(batch: MoveBatch, state: str) -> None:
    """Enter ``applying`` or ``restoring`` (the caller commits and queues the job)."""
    batch.state = state
    batch.pace = {"t": time.time(), "done": 0, "rate": None}


# -- progress ---------------------------------------------------------------------------------
def progress(batch: MoveBatch) -> dict[str, Any]:
    """Where the batch stands: ``total``/``done`` of the current phase (apply, or restore),
    ``percent``, ``rate_per_s``, ``eta_s`` and every type's count per item state."""
    restoring = batch.state in (RESTORING, RESTORED)
    was_moved = MoveItem.moved_at.is_not(None)
    rows = db.session.execute(
        select(MoveItem.entity_type, MoveItem.state, func.count(),
               func.sum(case((was_moved, 1), else_=0)))
        .where(MoveItem.batch_id == batch.id).group_by(MoveItem.entity_type, MoveItem.state))
    by_type: dict[str, dict[str, int]] = {name: {} for name in batch.types}
    total = pending = 0
    for entity_type, state, count, moved_count in rows:
        by_type.setdefault(entity_type, {})[state] = int(count)
        if restoring:
            total += int(moved_count or 0)
            pending += int(count) if state == MOVED else 0
        else:
            total += int(count)
            pending += int(count) if state == PLANNED else 0
    done = total - pending
    pace = batch.pace or {}
    rate = pace.get("rate") if batch.state in (APPLYING, RESTORING) else None
    eta = (pending / rate) if rate else None
    return {"state": batch.state, "phase": "restore" if restoring else "apply",
            "total": total, "done": done,
            "percent": round(100.0 * done / total, 1) if total else 100.0,
            "rate_per_s": round(float(rate), 1) if rate else None,
            "eta_s": round(eta, 1) if eta is not None else None, "by_type": by_type}


def items_for(batch_id: int, states: Iterable[str] | None = None) -> Any:
    """A query over the batch's journal rows (for reports), in id order."""
    query = select(MoveItem).where(MoveItem.batch_id == batch_id)
    if states is not None:
        query = query.where(MoveItem.state.in_(list(states)))
    return query.order_by(MoveItem.entity_type, MoveItem.id)


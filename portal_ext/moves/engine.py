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
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update

from portal_ext.extensions import db
from portal_ext.moves.models import (
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
from portal_ext.moves.portal_calls import current_rows, list_rows, update_template
from portal_ext.moves.portal_fields import ensure_prev_fields
from portal_ext.moves.portal_text import clean
from portal_ext.moves.types import ENTITY_TYPES, OWNER_PREFIXES, EntityKind
from portal_ext.portal.client import Command, PortalClient
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.errors import PortalError

__all__ = ["ENTITY_TYPES", "apply_chunk", "list_rows", "plan_batch", "progress", "restore_chunk",
           "start_phase"]

DEFAULT_LEASE_SECONDS = 120.0
_INSERT_ROWS = 5000  # journal rows per bulk insert (SQLAlchemy's, off SQLite)
_NOT_FOUND_CODES = {"NOT_FOUND", "ERROR_NOT_FOUND"}

# Journal notes the reports turn into sentences (portal_ext.handover.report); a failed item's
# note is the portal's own error text.
NOTE_HOLDER = "holder:"  # + the portal user id holding the item instead
NOTE_DELETED = "deleted"
NOTE_NO_SUCCESSOR = "no successor"
NOTE_STOPPED = "stopped before this item moved"
NOTE_NEW_LEAD = "new lead during the absence"


# -- planning -------------------------------------------------------------------------------
def plan_batch(batch: MoveBatch, *, client: PortalClient,
               to_user_for: Callable[[str, dict[str, Any]], int | None],
               listed: Mapping[str, Iterable[dict[str, Any]]] | None = None) -> dict[str, int]:
    """Journal the owner's items of the batch's types as ``planned`` (replacing an earlier
    plan of this batch); ``to_user_for(entity_type, row)`` names each item's successor (None
    or the owner himself: the item is journaled ``skipped``). Flushes, does not commit.

    ``listed`` (type -> the portal's rows) journals the items the caller found instead of
    listing the owner's: each one moves from whoever holds it now, and one that nobody holds,
    or that its successor holds already, is left out of the journal."""
    options = batch.options or {}
    counts: dict[str, int] = {}
    rows: list[tuple[Any, ...]] = []  # in _JOURNAL_COLUMNS order
    owner, portal_id, batch_id = batch.owner_id, batch.portal_id, batch.id
    # Everything is read before anything is written: on SQLite a write transaction held while
    # the portal is called would lock out the portal's own events coming back in-process.
    for name in batch.types:
        kind = ENTITY_TYPES[name]
        found: Iterable[dict[str, Any]]
        if listed is None:
            filter: dict[str, Any] = {kind.responsible_filter: owner}
            if not options.get("include_closed"):
                filter.update(kind.open_filter)
            found = list_rows(client, kind, filter)
        else:
            found = listed.get(name, ())
        usable_count = 0
        row_id, title = kind.row_id, kind.title
        for row in found:
            successor = _int(to_user_for(name, row))
            from_user = owner
            if listed is not None:
                holder = kind.responsible(row)
                if holder is None or successor is None or successor == holder:
                    continue
                from_user = holder
            if successor is not None and successor != from_user:
                usable_count += 1
                to_user, state, note = successor, PLANNED, None
            else:
                to_user, state, note = owner, SKIPPED, NOTE_NO_SUCCESSOR
            rows.append((portal_id, batch_id, name, row_id(row), from_user, to_user, state,
                         note, title(row) or None,
                         _owner_ref(row) if "OWNER_TYPE_ID" in row else None))
        counts[name] = usable_count
    db.session.execute(delete(MoveItem).where(MoveItem.batch_id == batch.id))
    _insert_journal(rows)
    batch.counts = counts
    db.session.flush()
    return counts


_JOURNAL_COLUMNS = ("portal_id", "batch_id", "entity_type", "entity_id", "from_user_id",
                    "to_user_id", "state", "note", "title", "owner_ref")


def _insert_journal(rows: list[tuple[Any, ...]]) -> None:
    """Insert new journal rows (tuples in ``_JOURNAL_COLUMNS`` order) in the session's
    transaction. On SQLite they go to the driver's ``executemany`` as they are: the columns
    are integers and strings, which need no conversion, and SQLAlchemy's work per row would
    cost about as much as SQLite's. Elsewhere SQLAlchemy's bulk insert (several rows a
    statement) is the fast way."""
    if not rows:
        return
    table = MoveItem.__table__
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        compiled = insert(table).compile(dialect=conn.dialect,
                                         column_keys=list(_JOURNAL_COLUMNS))
        order = [_JOURNAL_COLUMNS.index(name) for name in compiled.positiontup or ()]
        if order != list(range(len(_JOURNAL_COLUMNS))):
            rows = [tuple(row[i] for i in order) for row in rows]
        conn.exec_driver_sql(compiled.string, rows)
        return
    for start in range(0, len(rows), _INSERT_ROWS):
        conn.execute(insert(table), [dict(zip(_JOURNAL_COLUMNS, row, strict=True))
                                     for row in rows[start:start + _INSERT_ROWS]])


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
def claim(batch_id: int, *, seconds: float = DEFAULT_LEASE_SECONDS) -> str | None:
    """Take the batch's lease (committed) unless a live worker holds it; the token or None."""
    token = secrets.token_hex(8)
    now = host_utcnow()
    table = MoveBatch.__table__
    taken = db.session.execute(  # type: ignore[attr-defined]
        update(table).where(table.c.id == batch_id, or_(
            table.c.lease_until.is_(None), table.c.lease_until < now))
        .values(lease_until=now + timedelta(seconds=seconds), lease_token=token)).rowcount
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
            .values(lease_until=host_utcnow() + timedelta(seconds=seconds))).rowcount
    if not kept:
        raise LeaseLost(f"batch {batch_id}: another worker holds it now")


def release(batch_id: int, token: str) -> None:
    _unlock(batch_id, token)
    db.session.commit()


def _unlock(batch_id: int, token: str) -> None:
    table = MoveBatch.__table__
    db.session.execute(update(table).where(table.c.id == batch_id, table.c.lease_token == token)
                       .values(lease_until=None, lease_token=None))


# -- applying and restoring -----------------------------------------------------------------
# A journal row waiting for its move (or its restore), what a chunk needs of it:
# (id, entity_type, entity_id, from_user_id, to_user_id).
Pending = tuple[int, str, int, int, int]


class _Outcomes:
    """Journal changes collected for one chunk, written in bulk."""

    def __init__(self) -> None:
        self.by_state: dict[tuple[str, str | None], list[int]] = {}

    def add(self, item_id: int, state: str, note: str | None = None) -> None:
        self.by_state.setdefault((state, note), []).append(item_id)

    def extend(self, item_ids: Iterable[int], state: str) -> None:
        self.by_state.setdefault((state, None), []).extend(item_ids)

    def write(self, *, stamp: str, now: datetime) -> None:
        """One UPDATE per outcome, executed for each run of consecutive ids (a chunk's items
        were journaled together, so a chunk that went well is a single range)."""
        table = MoveItem.__table__
        for (state, note), ids in self.by_state.items():
            values: dict[str, Any] = {"state": state}
            if state in (MOVED, RESTORED_ITEM):
                values[stamp] = now  # and the note stays (e.g. "new lead during the absence")
            else:
                values["note"] = note
            db.session.execute(
                update(table).where(table.c.id.between(bindparam("first"), bindparam("last")))
                .values(**values),
                [{"first": first, "last": last} for first, last in _runs(ids)])


def _runs(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted runs of consecutive ids: ``[1, 2, 3, 7, 9, 10]`` -> ``[(1, 3), (7, 7), (9, 10)]``."""
    runs: list[tuple[int, int]] = []
    first = last = None
    for item_id in sorted(ids):
        if last is not None and item_id == last + 1:
            last = item_id
            continue
        if first is not None and last is not None:
            runs.append((first, last))
        first = last = item_id
    if first is not None and last is not None:
        runs.append((first, last))
    return runs


def apply_chunk(batch_id: int, *, client: PortalClient, now: datetime, size: int = 2500,
                lease_seconds: float = DEFAULT_LEASE_SECONDS) -> int:
    """Move up to ``size`` planned items of an ``applying`` batch; how many were processed
    (0: nothing left, or another worker holds the batch). Finishing marks it ``applied``."""
    return _run_chunk(batch_id, client=client, now=now, size=size, restoring=False,
                      lease_seconds=lease_seconds)


def restore_chunk(batch_id: int, *, client: PortalClient, now: datetime, size: int = 2500,
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
    held = True
    try:
        db.session.refresh(batch)
        if batch.state != phase_state:
            return 0
        fields = ensure_prev_fields(batch, client) if not restoring else \
            dict((batch.options or {}).get("uf_fields") or {})
        db.session.commit()  # no write transaction may stay open while the portal is called
        table = MoveItem.__table__
        # Plain tuples, not result rows: they live through the whole chunk, and rows (unlike
        # tuples of numbers and strings) stay with the garbage collector all that time.
        items: list[Pending] = list(map(tuple, db.session.execute(select(
            table.c.id, table.c.entity_type, table.c.entity_id, table.c.from_user_id,
            table.c.to_user_id).where(
            table.c.batch_id == batch_id, table.c.state == pending_state)
            .order_by(table.c.id).limit(size)).all()))
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
        _unlock(batch_id, token)  # the journal and the lease's release in one commit
        db.session.commit()
        held = False
        return len(items)
    except LeaseLost:
        db.session.rollback()  # the new holder re-reads what this chunk already wrote
        return 0
    except BaseException:
        db.session.rollback()
        raise
    finally:
        if held:
            release(batch_id, token)


def _move_items(client: PortalClient, items: Sequence[Pending], uf_fields: Mapping[str, Any],
                outcomes: _Outcomes, *, restoring: bool,
                heartbeat: Callable[[], None]) -> None:
    """Re-read, decide and write one chunk, every kind together: the re-read is one request
    per 2,500 items and the writes fill every ``batch`` with 50 commands (under the portal's
    2 requests/s every request counts)."""
    wanted: dict[str, list[int]] = {}
    for _id, entity_type, entity_id, _from, _to in items:
        ids = wanted.get(entity_type)
        if ids is None:
            wanted[entity_type] = ids = []
        ids.append(entity_id)
    current = current_rows(client, wanted)
    ways = {name: _Way(ENTITY_TYPES[name], uf_fields.get(name), current[name])
            for name in wanted}
    done_state = RESTORED_ITEM if restoring else MOVED
    add = outcomes.add
    written: list[int] = []
    commands: dict[str, Command] = {}
    for item_id, entity_type, entity_id, from_user, to_user in items:
        way = ways[entity_type]
        row = way.current.get(entity_id)
        if row is None:
            add(item_id, MISSING, NOTE_DELETED)
            continue
        try:
            holder: int | None = int(row.get(way.responsible_key, ""))
        except (TypeError, ValueError):  # none, or not a number
            holder = None
        giver, taker = (to_user, from_user) if restoring else (from_user, to_user)
        if holder == giver:
            # The template takes the user field's value third, if the kind has the field.
            written.append(item_id)
            commands[f"w{item_id}"] = (way.method, way.template.format(
                entity_id, taker, "" if restoring else from_user))
        elif holder == taker and (restoring or not way.uf_name
                                  or _int(row.get(way.uf_name)) == from_user):
            # Written before a crash, journal not yet updated: no second write.
            add(item_id, done_state)
        elif restoring:
            add(item_id, CONFLICT, f"{NOTE_HOLDER}{holder}")
        else:
            add(item_id, SKIPPED, f"{NOTE_HOLDER}{holder}")
    if not written:
        return
    errors = client.run_batch(commands, before_each=heartbeat).errors
    if not errors:
        outcomes.extend(written, done_state)
        return
    transient = 0
    maybe_gone: dict[int, PortalError] = {}
    for item_id in written:
        error = errors.get(f"w{item_id}")
        if error is None:
            add(item_id, done_state)
        elif error.transient:
            transient += 1  # stays pending: the next chunk tries again
        elif error.code in _NOT_FOUND_CODES:
            add(item_id, MISSING, NOTE_DELETED)
        elif _may_mean_deleted(error):
            maybe_gone[item_id] = error
        else:
            add(item_id, FAILED_ITEM, _note(error))
    if maybe_gone:
        _tell_deleted_from_refused(client, items, maybe_gone, add)
    if transient == len(written):
        raise next(iter(e for e in errors.values() if e.transient))


def _tell_deleted_from_refused(client: PortalClient, items: Sequence[Pending],
                               refused: Mapping[int, PortalError],
                               add: Callable[..., None]) -> None:
    """A refusal worded like "not found" or "not allowed" may be a deleted item (tasks answer
    "Action on the task is not allowed") or a real refusal (an unknown user, no rights): one
    more re-read tells them apart. Gone: ``missing``; still there: ``failed`` with the
    portal's words."""
    where = {item_id: (entity_type, entity_id)
             for item_id, entity_type, entity_id, _from, _to in items if item_id in refused}
    wanted: dict[str, list[int]] = {}
    for entity_type, entity_id in where.values():
        wanted.setdefault(entity_type, []).append(entity_id)
    present = current_rows(client, wanted)
    for item_id, (entity_type, entity_id) in where.items():
        if entity_id in present[entity_type]:
            add(item_id, FAILED_ITEM, _note(refused[item_id]))
        else:
            add(item_id, MISSING, NOTE_DELETED)


def _note(error: PortalError) -> str:
    return (clean(error.description) or error.code)[:500]


class _Way:
    """One kind's items in a chunk: as re-read, and how they are written (the update's method
    and query template: the id, the new responsible, the previous one where the kind has the
    user field)."""

    __slots__ = ("current", "method", "responsible_key", "template", "uf_name")

    def __init__(self, kind: EntityKind, uf_name: str | None,
                 current: Mapping[int, Mapping[str, Any]]) -> None:
        self.current = current  # id -> the item as the portal has it now
        self.method, self.responsible_key = kind.update_method, kind.responsible_key
        self.uf_name = uf_name or None
        names = (kind.responsible_field, uf_name) if uf_name else (kind.responsible_field,)
        self.template = update_template(kind, names)


def _may_mean_deleted(error: PortalError) -> bool:
    text = (error.description or "").lower()
    # tasks.task.update answers "Action on the task is not allowed" for a deleted task.
    return "not found" in text or "not allowed" in text


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
    ``percent``, ``rate_per_s``, ``eta_s``, ``failed`` (items the portal refused in this
    phase: a finished phase with failures says so) and every type's count per item state."""
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
    failed = _failed_in_phase(batch.id, restoring)
    return {"state": batch.state, "phase": "restore" if restoring else "apply",
            "total": total, "done": done, "failed": failed,
            "percent": round(100.0 * done / total, 1) if total else 100.0,
            "rate_per_s": round(float(rate), 1) if rate else None,
            "eta_s": round(eta, 1) if eta is not None else None, "by_type": by_type}


def _failed_in_phase(batch_id: int, restoring: bool) -> int:
    """Items the portal refused in this phase (a give-back's had moved; a move's had not)."""
    moved = MoveItem.moved_at.is_not(None) if restoring else MoveItem.moved_at.is_(None)
    return int(db.session.scalar(select(func.count()).select_from(MoveItem).where(
        MoveItem.batch_id == batch_id, MoveItem.state == FAILED_ITEM, moved)) or 0)


def items_for(batch_id: int, states: Iterable[str] | None = None) -> Any:
    """A query over the batch's journal rows (for reports), in id order."""
    query = select(MoveItem).where(MoveItem.batch_id == batch_id)
    if states is not None:
        query = query.where(MoveItem.state.in_(list(states)))
    return query.order_by(MoveItem.entity_type, MoveItem.id)


"""Dismissal transfers: preview, apply, undo, discard.

A transfer is a ``MoveBatch`` of kind ``transfer`` (the move engine, portal_ext.moves, moves the
items). Creating one validates the request, decides each item's successor with a pure strategy
(portal_ext.transfers.strategies) while the engine lists the user's items, and keeps the result
as a **preview**: nothing changes on the portal until it is applied. Closed items are included
unless asked otherwise (seed 002 recommends it: a returning client finds someone to talk to).

Undo gives back every item its successor still holds, within ``TRANSFER_UNDO_DAYS`` of the
transfer; an item someone else took meanwhile is reported as a conflict (the restore rules).

Every rejected request raises :class:`TransferError` naming the field, before anything is
written.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal_ext import moves
from portal_ext.directory.models import PortalUser
from portal_ext.errors import CONFLICT, NOT_FOUND, FieldChecks
from portal_ext.extensions import db
from portal_ext.moves.models import (
    APPLIED,
    APPLYING,
    CANCELLED,
    PREVIEW,
    RESTORED,
    RESTORING,
    TRANSFER,
    MoveBatch,
)
from portal_ext.moves.types import ENTITY_TYPES as KINDS
from portal_ext.moves.types import PREFIX_TYPES
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal
from portal_ext.transfers import rules
from portal_ext.transfers import successors as people
from portal_ext.transfers.errors import NoSuccessor, TransferError
from portal_ext.transfers.models import CLOSED, PENDING, TRANSFERRED, Dismissal
from portal_ext.transfers.strategies import (
    ENTITY_TYPES,
    HEAD,
    PER_TYPE,
    PERSON,
    SPREAD,
    STRATEGIES,
    Candidate,
    SuccessorPlan,
    adjusted,
    named,
    per_type,
    spread,
)

log = logging.getLogger(__name__)
DEFAULT_UNDO_DAYS = 14
_TYPE_IDS = {1: "lead", 2: "deal", 3: "contact", 4: "company", 7: "quote", 31: "smart_invoice"}
_PREFIXES = {prefix: _TYPE_IDS[type_id] for prefix, type_id in PREFIX_TYPES.items()}


@dataclass
class TransferInput:
    """What an administrator asks for (portal user ids)."""

    user_id: int | None
    strategy: str
    successors: list[int] = field(default_factory=list)  # person: one; spread: the chosen
    department_id: int | None = None  # spread over a department instead of chosen people
    per_type: dict[str, int] = field(default_factory=dict)  # per_type: type -> successor
    types: list[str] | None = None  # None: every type (per_type: the types given)
    include_closed: bool = True


# -- validation -------------------------------------------------------------------------------
def _the_user(portal_id: int, user_id: int | None) -> Any:
    user = people.person(portal_id, user_id)
    if user is None:
        raise TransferError("user_id", _l("There is no such user on the portal."))
    return user


def _successor(portal_id: int, user_id: int, dismissed_id: int, name: str) -> Candidate:
    found = people.person(portal_id, user_id)
    if found is None:
        raise TransferError(name, _l("User %(id)s is not a user of the portal.", id=user_id))
    if found.portal_user_id == dismissed_id:
        raise TransferError(name, _l("%(name)s cannot take over their own items.",
                                     name=found.full_name))
    if not found.active:
        raise TransferError(name, _l("%(name)s is dismissed and cannot take over items.",
                                     name=found.full_name))
    return Candidate(found.portal_user_id)


def _types(data: TransferInput) -> list[str]:
    wanted = data.types
    if wanted is None:
        wanted = list(data.per_type) if data.strategy == PER_TYPE else list(ENTITY_TYPES)
    unknown = [t for t in wanted if t not in ENTITY_TYPES]
    if unknown:
        raise TransferError("types", _l("Unknown item type: %(type)s.", type=unknown[0]))
    if not wanted:
        raise TransferError("types", _l("Choose at least one type of items to transfer."))
    # CRM items first: activities and tasks follow the item they are about.
    return [t for t in ENTITY_TYPES if t in wanted]


def build_plan(*, portal_id: int, user: Any, data: TransferInput, types: list[str],
               client: PortalClient, now: datetime, rng: random.Random) -> SuccessorPlan:
    """Validate the strategy's inputs and make the plan (reads loads for ``spread``)."""
    uid = user.portal_user_id
    if data.strategy not in STRATEGIES:
        raise TransferError("strategy", _l("Choose one of: person, head, spread, per_type."))
    if data.strategy == PERSON:
        if len(data.successors) != 1:
            raise TransferError("successors", _l("Choose exactly one successor."))
        return named(_successor(portal_id, data.successors[0], uid, "successors"),
                     dismissed_id=uid)
    if data.strategy == HEAD:
        head = people.department_head(portal_id, user)
        if head is None:
            raise TransferError("strategy", _l(
                "%(name)s has no active department head to take over.", name=user.full_name))
        return named(Candidate(head), dismissed_id=uid, strategy=HEAD)
    if data.strategy == PER_TYPE:
        missing = [t for t in types if t not in data.per_type]
        if missing:
            raise TransferError("successors", _l("Choose a successor for %(type)s.",
                                                 type=str(KINDS[missing[0]].label).lower()))
        chosen = {t: _successor(portal_id, int(data.per_type[t]), uid, "successors")
                  for t in types}
        return per_type(chosen, dismissed_id=uid)
    return _spread_plan(portal_id=portal_id, user=user, data=data, client=client, now=now,
                        rng=rng)


def _check_strategy(portal_id: int, user: Any, data: TransferInput) -> None:
    """The strategy's own inputs, checked without reading the portal (the loads)."""
    uid = user.portal_user_id
    if data.strategy not in STRATEGIES:
        raise TransferError("strategy", _l("Choose one of: person, head, spread, per_type."))
    if data.strategy == PERSON:
        if len(data.successors) != 1:
            raise TransferError("successors", _l("Choose exactly one successor."))
        _successor(portal_id, data.successors[0], uid, "successors")
    elif data.strategy == SPREAD and data.department_id is None:
        if not data.successors:
            raise TransferError("successors", _l("Choose at least one successor."))
        for successor_id in data.successors:
            _successor(portal_id, successor_id, uid, "successors")


def _spread_plan(*, portal_id: int, user: Any, data: TransferInput, client: PortalClient,
                 now: datetime, rng: random.Random) -> SuccessorPlan:
    uid = user.portal_user_id
    if data.department_id is not None:
        if not people.department_exists(portal_id, data.department_id):
            raise TransferError("department_id", _l("There is no such department."))
        ids = people.department_people(portal_id, data.department_id)
    else:
        if not data.successors:
            raise TransferError("successors", _l("Choose at least one successor."))
        for successor_id in data.successors:
            _successor(portal_id, successor_id, uid, "successors")
        ids = list(data.successors)
    found = people.candidates(portal_id, ids, now)
    usable = [c.user_id for c in found if c.active and not c.absent and c.user_id != uid]
    if not usable:
        raise TransferError("department_id" if data.department_id is not None else "successors",
                            _l("Everyone chosen is away or dismissed: nobody can take over."))
    loads = people.current_loads(client, usable)
    try:
        return spread(found, loads, dismissed_id=uid, rng=rng)
    except NoSuccessor as exc:  # pragma: no cover - usable was checked above
        raise TransferError("successors", str(exc)) from None


def _about(entity_type: str, row: Mapping[str, Any]) -> tuple[str, int] | None:
    """The CRM item an activity (OWNER_TYPE_ID/OWNER_ID) or task (UF_CRM_TASK) is about."""
    try:
        if entity_type == "activity":
            owner_type = _TYPE_IDS.get(int(row.get("OWNER_TYPE_ID") or 0))
            return (owner_type, int(row["OWNER_ID"])) if owner_type else None
        if entity_type == "task":
            for ref in row.get("ufCrmTask") or row.get("UF_CRM_TASK") or []:
                prefix, _, number = str(ref).partition("_")
                if prefix in _PREFIXES and number.isdigit():
                    return _PREFIXES[prefix], int(number)
    except (TypeError, ValueError, KeyError):
        return None
    return None


# -- the transfer's life ----------------------------------------------------------------------
def live_transfer(portal_id: int, user_id: int) -> MoveBatch | None:
    """The user's transfer still in preview, being applied or being undone (automatic
    changes of responsible do not count: portal_ext.transfers.auto_mode)."""
    for batch in db.session.scalars(select(MoveBatch).where(
            MoveBatch.portal_id == portal_id, MoveBatch.kind == TRANSFER,
            MoveBatch.owner_id == user_id,
            MoveBatch.state.in_((PREVIEW, APPLYING, RESTORING))).order_by(MoveBatch.id)):
        if not (batch.options or {}).get("auto"):
            return batch
    return None


def create_transfer(*, portal: Portal, client: PortalClient, actor: PortalUser | None,
                    data: TransferInput, now: datetime, rng: random.Random | None = None
                    ) -> MoveBatch:
    """Validate and preview a transfer (commits). Nothing changes on the portal."""
    checks = FieldChecks()  # every bad input at once
    user: Any = None
    types: list[str] = []
    with checks:
        user = _the_user(portal.id, data.user_id)
    with checks:
        types = _types(data)
    if user is None or checks.failed:
        if user is not None:  # the strategy's inputs are checked too (no portal call)
            with checks:
                _check_strategy(portal.id, user, data)
        checks.done()
    live = live_transfer(portal.id, user.portal_user_id)
    if live is not None:
        raise TransferError("user_id", _l(
            "A transfer of %(name)s's items is already in progress (#%(id)s): apply or "
            "discard it first.", name=user.full_name, id=live.id), CONFLICT)
    plan = build_plan(portal_id=portal.id, user=user, data=data, types=types, client=client,
                      now=now, rng=rng or random.Random())
    try:
        batch = moves.new_batch(
            portal_id=portal.id, kind=TRANSFER, owner_id=user.portal_user_id,
            live_key=f"transfer:{user.portal_user_id}", created_by=_id(actor), created_at=now,
            options={"types": types, "include_closed": bool(data.include_closed),
                     "strategy": data.strategy, "request": _request_json(data)})
    except IntegrityError:  # the same request twice at once: the other one won
        db.session.rollback()
        raise TransferError("user_id", _l("A transfer of these items is already in "
                                          "progress."), CONFLICT) from None

    def to_user_for(entity_type: str, row: dict[str, Any]) -> int:
        return plan.pick(entity_type, KINDS[entity_type].row_id(row), _about(entity_type, row))

    try:
        moves.plan(batch, client=client, to_user_for=to_user_for)
    except Exception:
        db.session.rollback()
        raise
    shares = plan.decision.shares
    batch.to_user_id = next(iter(shares)) if len(shares) == 1 else None
    batch.options = {**batch.options, "decision": plan.decision.as_json()}
    db.session.commit()
    return batch


def _request_json(data: TransferInput) -> dict[str, Any]:
    return {"successors": list(data.successors), "department_id": data.department_id,
            "per_type": dict(data.per_type)}


def split_field(user_id: int | str, entity_type: str) -> str:
    """The input naming how many items of ``entity_type`` a successor gets (the preview's
    adjustable split); ``user_id`` "total" names the type's column."""
    return f"split-{user_id}-{entity_type}"


def adjust_split(*, batch: MoveBatch | None, wanted: Mapping[int, Mapping[str, Any]],
                 actor: PortalUser | None, now: datetime) -> int:
    """Change a previewed spread: ``wanted`` gives, per successor the preview considered,
    how many items of each type they get (per type, the numbers must add up to the items of
    that type). The items are redealt by portal_ext.transfers.strategies.adjusted; applying
    then moves exactly this split. Every bad number is reported at once. How many items
    changed successor (committed)."""
    batch = _transfer(batch)
    if batch.state != PREVIEW:
        raise TransferError("state", _STATE_REFUSALS.get(batch.state, _l(
            "Only a preview can be adjusted.")), CONFLICT)
    decision = dict((batch.options or {}).get("decision") or {})
    successors = [int(s["user_id"]) for s in decision.get("successors", [])]
    items = moves.planned_items(batch)
    planned = Counter(entity_type for entity_type, _i, _u in items)
    checks = FieldChecks()
    split: dict[int, dict[str, int]] = {}
    for user_id in successors:
        split[user_id] = {}
        for entity_type in planned:
            raw = (wanted.get(user_id) or {}).get(entity_type, 0)
            try:
                number = int(str(raw).strip() or "0")
            except ValueError:
                number = -1
            if not 0 <= number <= planned[entity_type]:
                checks.add(TransferError(split_field(user_id, entity_type), _l(
                    "Give a whole number from 0 to %(max)s.", max=planned[entity_type])))
            split[user_id][entity_type] = max(number, 0)
    unknown = [uid for uid in wanted if int(uid) not in successors]
    if unknown:
        checks.add(TransferError("successors", _l(
            "User %(id)s was not among the people this preview spreads over.",
            id=unknown[0])))
    if not checks.failed:
        for entity_type, count in planned.items():
            given = sum(split[uid][entity_type] for uid in successors)
            if given != count:
                checks.add(TransferError(split_field("total", entity_type), _l(
                    "%(kind)s: %(given)s given out of %(count)s; every item needs exactly "
                    "one successor.", kind=KINDS[entity_type].label, given=given,
                    count=count)))
    checks.done()
    changed = moves.reassign_planned(batch, adjusted(items, split))
    shares = []
    for share in decision.get("successors", []):
        received = {t: n for t, n in sorted(split[int(share["user_id"])].items()) if n}
        total = sum(received.values())
        shares.append({**share, "received": received, "total": total,
                       "load_after": int(share.get("load_before") or 0) + total})
    batch.options = {**batch.options, "decision": {**decision, "successors": shares},
                     "adjusted_by": _id(actor), "adjusted_at": now.isoformat()}
    receiving = [uid for uid in successors if sum(split[uid].values())]
    batch.to_user_id = receiving[0] if len(receiving) == 1 else None
    db.session.commit()
    return changed


def _transfer(batch: MoveBatch | None) -> MoveBatch:
    if batch is None or batch.kind != TRANSFER:
        raise TransferError("id", _l("There is no such transfer."), NOT_FOUND)
    return batch


def apply_transfer(*, portal: Portal, client: PortalClient, batch: MoveBatch | None,
                   actor: PortalUser | None, now: datetime) -> MoveBatch:
    """Start moving a previewed transfer's items (the job runs chunk after chunk)."""
    batch = _transfer(batch)
    if batch.state != PREVIEW:
        raise TransferError("state", _STATE_REFUSALS.get(batch.state, _l(
            "This transfer cannot be applied now.")), CONFLICT)
    planned = moves.planned_successors(batch)
    if not planned:
        raise TransferError("types", _l("Nothing to transfer: the user is responsible for no "
                                        "items of the chosen types."))
    for successor_id in planned:  # dismissed since the preview?
        found = people.person(portal.id, successor_id)
        if found is None or not found.active:
            raise TransferError("successors", _l(
                "%(name)s was dismissed after the preview; make a new preview.",
                name=found.full_name if found else successor_id))
    # The previous-responsible field is made before the job starts: the job then writes
    # nothing of its own while the portal's events of its writes come in (SQLite: one writer).
    moves.prepare(batch, client)
    batch.live_key = f"transfer:{batch.owner_id}:{batch.id}"  # a later transfer may start
    batch.options = {**batch.options, "applied_by": _id(actor), "started_at": now.isoformat()}
    dismissal = _dismissal(portal.id, batch.owner_id)
    if dismissal is not None:
        dismissal.state, dismissal.transfer_batch_id, dismissal.error = (
            TRANSFERRED, batch.id, None)
        dismissal.closed_by_id, dismissal.closed_at = _id(actor), now
    _start(moves.start_applying, batch)
    return batch


_STATE_REFUSALS: dict[str, Any] = {
    APPLYING: _l("This transfer is already being applied."),
    APPLIED: _l("This transfer was already applied."),
    RESTORING: _l("This transfer is being undone."),
    RESTORED: _l("This transfer was undone."),
    CANCELLED: _l("This transfer was discarded."),
}


def discard_transfer(*, batch: MoveBatch | None, now: datetime) -> MoveBatch:
    """Drop a preview (nothing had changed on the portal)."""
    batch = _transfer(batch)
    if batch.state != PREVIEW:
        raise TransferError("state", _STATE_REFUSALS.get(batch.state, _l(
            "Only a preview can be discarded.")), CONFLICT)
    moves.cancel(batch)
    db.session.commit()
    return batch


def undo_days(config: Mapping[str, Any]) -> int:
    return int(config.get("TRANSFER_UNDO_DAYS", DEFAULT_UNDO_DAYS))


def undo_until(batch: MoveBatch, days: int) -> datetime | None:
    return rules.undo_deadline(batch.applied_at, days)


def undo_transfer(*, portal: Portal, batch: MoveBatch | None, actor: PortalUser | None,
                  now: datetime, days: int) -> MoveBatch:
    """Give the items back within the undo period; items someone else took since are
    conflicts and stay where they are."""
    batch = _transfer(batch)
    if batch.state == APPLYING:
        raise TransferError("state", _l("This transfer is still being applied; undo it when "
                                        "it is done."), CONFLICT)
    if batch.state != APPLIED:
        raise TransferError("state", _STATE_REFUSALS.get(batch.state, _l(
            "Only an applied transfer can be undone.")), CONFLICT)
    deadline = undo_until(batch, days)
    if deadline is not None and now > deadline:
        raise TransferError("state", _l("The undo period of %(days)s days is over.",
                                        days=days), CONFLICT, code="expired")
    batch.options = {**batch.options, "undone_by": _id(actor), "undo_started_at": now.isoformat()}
    dismissal = _dismissal(portal.id, batch.owner_id)
    if dismissal is not None and dismissal.transfer_batch_id == batch.id:
        dismissal.state, dismissal.closed_by_id, dismissal.closed_at = PENDING, None, None
    _start(moves.start_restoring, batch)
    return batch


def retry_transfer(*, batch: MoveBatch | None) -> int:
    """Try again the items the transfer (or its undo) failed to move; how many."""
    batch = _transfer(batch)
    try:
        return moves.retry_failed(batch)
    except moves.NothingToRetry:
        raise TransferError("state", _l("This transfer has no failed items to try again."),
                            CONFLICT) from None
    except PortalError as exc:  # inline runner: the handover tick resumes the batch
        log.warning("transfer %s: the portal failed (%s); it resumes on the next tick",
                    batch.id, exc)
        return 0


def _start(start: Callable[[MoveBatch], None], batch: MoveBatch) -> None:
    """Start a phase (committed, the job queued): with the inline runner the job runs now,
    and a portal failure there leaves the batch for the handover tick to resume."""
    batch_id = batch.id
    try:
        start(batch)
    except PortalError as exc:  # inline runner: the handover tick resumes the batch
        log.warning("transfer %s: the portal failed (%s); it resumes on the next tick",
                    batch_id, exc)


def _dismissal(portal_id: int, user_id: int) -> Dismissal | None:
    found: Dismissal | None = db.session.scalars(select(Dismissal).where(
        Dismissal.portal_id == portal_id, Dismissal.user_id == user_id)).first()
    return found


# -- the waiting list ---------------------------------------------------------------------------
def dismissal_of(portal_id: int, dismissal_id: int) -> Dismissal | None:
    """The dismissal ``dismissal_id`` of the portal ``portal_id`` (None: not this portal's)."""
    row = db.session.get(Dismissal, dismissal_id)
    return row if row is not None and row.portal_id == portal_id else None


def _id(actor: PortalUser | None) -> int | None:
    """The acting user's portal user id, as the audit fields keep it (None: the extension)."""
    return actor.portal_user_id if actor is not None else None


def close_dismissal(*, dismissal: Dismissal, actor: PortalUser | None, now: datetime) -> bool:
    """Take a dismissed user off the waiting list: nothing to transfer (commits). False when
    the dismissal is no longer waiting (transferred or closed meanwhile): nothing changes."""
    if not rules.may_close(dismissal.state):
        return False
    dismissal.state, dismissal.closed_at = CLOSED, now
    dismissal.closed_by_id = _id(actor)
    db.session.commit()
    return True

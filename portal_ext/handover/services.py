"""Handing an absent user's client base to the deputy, and back.

``preview_handover`` journals what would move (nothing changes on the portal);
``apply_handover`` starts moving it after an explicit confirmation (for an absence that has
not begun, by default when it begins: ``scheduled``, started by ``start_scheduled`` on the
tick); ``restore_handover`` gives back everything still with the deputy; ``retry_handover``
tries again the items a run failed to move. The work itself runs in the move engine's jobs
(portal_ext.moves). Rejected input raises
:class:`HandoverError` naming the field and leaves the database as it was.

Who may: an administrator, or the head of the absent user's department (the people whose
absences they may edit, portal_ext.absences.editors).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal_ext import moves
from portal_ext.absences.editors import editable_users, may_edit
from portal_ext.absences.models import Absence
from portal_ext.absences.services import fallback_deputy
from portal_ext.absences.validation import person
from portal_ext.directory.models import PortalUser
from portal_ext.errors import CONFLICT, FORBIDDEN, NOT_FOUND, FieldChecks
from portal_ext.extensions import db
from portal_ext.handover import rules
from portal_ext.handover.errors import HandoverError
from portal_ext.moves.models import (
    APPLIED,
    APPLYING,
    HANDOVER,
    LIVE_STATES,
    PREVIEW,
    RESTORED,
    RESTORING,
    SCHEDULED,
    MoveBatch,
)
from portal_ext.moves.types import TYPE_NAMES
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)


def live_key(absence_id: int) -> str:
    return f"absence:{absence_id}"


def deputy_for(absence: Absence) -> int | None:
    """The absence's deputy, else the user's standing deputy, else their department head."""
    if absence.deputy_id is not None:
        return absence.deputy_id
    return fallback_deputy(portal_id=absence.portal_id, user_id=absence.user_id)


def check_types(types: Iterable[Any] | None) -> list[str]:
    chosen = list(dict.fromkeys(str(t) for t in (types or [])))
    if not chosen:
        raise HandoverError("types", _l("Choose at least one kind of item to hand over."))
    unknown = [t for t in chosen if t not in TYPE_NAMES]
    if unknown:
        raise HandoverError("types", _l("Unknown kind of item: %(name)s. Known: %(known)s.",
                                        name=unknown[0], known=", ".join(TYPE_NAMES)))
    return [t for t in TYPE_NAMES if t in chosen]  # the portal's order, whatever was sent


def existing_handover(portal_id: int, absence_id: int) -> MoveBatch | None:
    found: MoveBatch | None = db.session.scalars(select(MoveBatch).where(
        MoveBatch.portal_id == portal_id, MoveBatch.kind == HANDOVER,
        MoveBatch.absence_id == absence_id, MoveBatch.state.in_(LIVE_STATES))
        .order_by(MoveBatch.id.desc()).limit(1)).first()
    return found


def _check_people(portal: Portal, absence: Absence) -> int:
    owner = person(portal.id, absence.user_id)
    if owner is None:
        raise HandoverError("user_id", _l("There is no such user on the portal."))
    deputy_id = deputy_for(absence)
    if deputy_id is None:
        raise HandoverError("deputy_id", _l(
            "The absence names no deputy, and %(name)s has neither a standing deputy nor a "
            "department head to hand over to.", name=owner.full_name))
    if deputy_id == absence.user_id:
        raise HandoverError("deputy_id", _l("The deputy is the absent user: there is nobody "
                                            "to hand over to."))
    deputy = person(portal.id, deputy_id)
    if deputy is None:
        raise HandoverError("deputy_id", _l("There is no such user on the portal."))
    if not deputy.active:
        raise HandoverError("deputy_id", _l("%(name)s is dismissed and cannot take over.",
                                            name=deputy.full_name))
    return deputy_id


def _absence(portal: Portal, absence_id: Any) -> Absence:
    if isinstance(absence_id, bool) or not isinstance(absence_id, int):
        raise HandoverError("absence_id", _l("Name the absence by its id (a whole number)."))
    absence = db.session.get(Absence, absence_id)
    if absence is None or absence.portal_id != portal.id:
        raise HandoverError("absence_id", _l("There is no absence %(id)s.", id=absence_id),
                            NOT_FOUND)
    return absence


def preview_handover(*, portal: Portal, client: PortalClient, actor: PortalUser | None,
                     absence_id: Any, types: Iterable[Any] | None, include_closed: bool,
                     include_new_leads: bool = False, now: datetime) -> MoveBatch:
    """List what would move and journal it as a preview (committed); ``actor`` None: the
    portal-wide policy."""
    absence = _absence(portal, absence_id)
    if actor is not None and not may_hand_over(actor, absence.user_id):
        raise HandoverError("absence_id", _l("Only an administrator or the absent user's "
                                             "department head may hand over a client base."),
                            FORBIDDEN)
    checks = FieldChecks()  # every bad input at once
    chosen: list[str] = []
    deputy_id = 0
    with checks:
        chosen = check_types(types)
    if absence.end <= now:
        checks.add(HandoverError("absence_id", _l("This absence is over; there is nothing to "
                                                  "hand over.")))
    with checks:
        deputy_id = _check_people(portal, absence)
    checks.done()
    _refuse_duplicate(portal.id, absence.id)
    try:
        batch = moves.new_batch(
            portal_id=portal.id, kind=HANDOVER, owner_id=absence.user_id,
            to_user_id=deputy_id, absence_id=absence.id, live_key=live_key(absence.id),
            options={"types": chosen, "include_closed": bool(include_closed),
                     "include_new_leads": bool(include_new_leads)},
            created_by=actor.portal_user_id if actor is not None else None, created_at=now)
    except IntegrityError:  # the same absence submitted twice at once: the other one won
        db.session.rollback()
        _refuse_duplicate(portal.id, absence.id)
        raise
    try:
        counts = moves.plan(batch, client=client, to_user_for=lambda _t, _r: deputy_id)
    except BaseException:
        db.session.rollback()
        raise
    if not sum(counts.values()):
        db.session.rollback()
        owner = person(portal.id, absence.user_id)
        raise HandoverError("types", _l(
            "%(name)s has no items of the chosen kinds to hand over.",
            name=owner.full_name if owner else absence.user_id))
    db.session.commit()
    return batch


def _refuse_duplicate(portal_id: int, absence_id: int) -> None:
    existing = existing_handover(portal_id, absence_id)
    if existing is not None:
        raise HandoverError("absence_id", _l(
            "This absence already has handover %(id)s (%(state)s); open it instead of "
            "starting another.", id=existing.id, state=existing.state), CONFLICT)


def may_hand_over(actor: PortalUser, user_id: int) -> bool:
    """An administrator, or a head of the user's department (sub-departments included)."""
    return actor.is_admin or (actor.role == "head" and may_edit(actor, user_id))


def may_manage(actor: PortalUser | None, batch: MoveBatch) -> bool:
    """Who may see and drive a batch (None: the system itself, a policy or a tick)."""
    return actor is None or may_hand_over(actor, batch.owner_id)


def _check_actor(batch: MoveBatch, actor: PortalUser | None) -> None:
    if not may_manage(actor, batch):
        raise HandoverError(None, _l("Only an administrator or the absent user's department "
                                     "head may do this."), FORBIDDEN)


START_NOW, START_WITH_ABSENCE = "now", "absence_start"
STARTS = (START_WITH_ABSENCE, START_NOW)


def apply_handover(*, batch: MoveBatch, actor: PortalUser | None, confirmed: bool,
                   now: datetime, enqueue: bool = True, start: Any = START_WITH_ABSENCE
                   ) -> MoveBatch:
    """Start moving a previewed handover (the job does the work, unless ``enqueue`` is off:
    the caller drives it, as the CLI does). ``confirmed`` is the explicit confirmation the
    person gave after seeing the preview.

    ``start``: ``absence_start`` (the default) lets a handover of an absence that has not
    begun wait, ``scheduled``, until it begins (the minute tick starts it:
    :func:`start_scheduled`); ``now`` moves the items at once. A scheduled handover may
    still be started now."""
    _check_actor(batch, actor)
    if start not in STARTS:
        raise HandoverError("start", _l("Choose when the items move: %(choices)s.",
                                        choices=", ".join(STARTS)))
    if not confirmed:
        raise HandoverError("confirm", _l("Confirm that the items shown should move to the "
                                          "deputy."))
    absence = db.session.get(Absence, batch.absence_id) if batch.absence_id else None
    wait = start == START_WITH_ABSENCE and absence is not None and absence.start > now
    if batch.state == SCHEDULED and wait:
        raise HandoverError(None, _l("Handover %(id)s is already %(state)s.", id=batch.id,
                                     state=batch.state), CONFLICT)
    # Only one request can turn a preview into a running handover (double submission).
    if not moves.take(batch, states=(PREVIEW, SCHEDULED), to=SCHEDULED if wait else APPLYING):
        db.session.refresh(batch)
        raise HandoverError(None, _l("Handover %(id)s is already %(state)s.", id=batch.id,
                                     state=batch.state), CONFLICT)
    batch.options = {**(batch.options or {}), "start": start,
                     "confirmed_by": actor.portal_user_id if actor is not None else None,
                     "confirmed_at": now.isoformat()}
    if wait:
        db.session.commit()
        return batch
    moves.start_applying(batch, enqueue=enqueue)
    return batch


def start_scheduled(*, portal: Portal, now: datetime) -> dict[str, int]:
    """Level-triggered, every tick: each scheduled handover whose absence has started starts
    moving (however late the tick: after an outage the first one catches up); one whose
    absence is already over by then has nothing left to do and is cancelled."""
    due = list(db.session.scalars(select(MoveBatch).join(
        Absence, Absence.id == MoveBatch.absence_id).where(
        MoveBatch.portal_id == portal.id, MoveBatch.kind == HANDOVER,
        MoveBatch.state == SCHEDULED, Absence.start <= now).order_by(MoveBatch.id)))
    counts = {"scheduled_started": 0, "scheduled_cancelled": 0}
    for batch in due:
        absence = db.session.get(Absence, batch.absence_id)
        if absence is not None and absence.end <= now:
            moves.cancel(batch)
            db.session.commit()
            counts["scheduled_cancelled"] += 1
            continue
        if not moves.take(batch, states=(SCHEDULED,), to=APPLYING):  # another tick did
            continue
        moves.start_applying(batch)
        counts["scheduled_started"] += 1
    return counts


def restore_handover(*, batch: MoveBatch, actor: PortalUser | None, client: PortalClient,
                     now: datetime, enqueue: bool = True) -> MoveBatch:
    """Give everything still with the deputy back to the owner (the job does the work).
    A handover still moving stops: what has not moved yet stays where it is."""
    _check_actor(batch, actor)
    if batch.state not in (APPLYING, APPLIED, RESTORING):
        raise HandoverError(None, _l("Handover %(id)s is %(state)s; only a handover that "
                                     "was applied can be restored.", id=batch.id,
                                     state=batch.state), CONFLICT)
    if batch.state != RESTORING:
        moves.stop_pending(batch)
        if (batch.options or {}).get("include_new_leads") and batch.absence_id is not None:
            from portal_ext.handover.new_leads import adopt_new_leads

            db.session.commit()
            adopt_new_leads(batch, client=client, now=now)
    moves.start_restoring(batch, enqueue=enqueue)
    return batch


def discard_preview(*, batch: MoveBatch, actor: PortalUser | None) -> None:
    """Drop a preview nobody confirmed, or a confirmed handover still waiting for its
    absence to start (its journal goes with it): nothing had moved."""
    _check_actor(batch, actor)
    if batch.state not in (PREVIEW, SCHEDULED):
        raise HandoverError(None, _l("Handover %(id)s is already %(state)s.", id=batch.id,
                                     state=batch.state), CONFLICT)
    moves.discard(batch)
    db.session.commit()


def retry_handover(*, batch: MoveBatch, actor: PortalUser | None) -> int:
    """Try again the items the last run (the handover, or its give-back) failed to move;
    how many (the job does the work)."""
    _check_actor(batch, actor)
    try:
        return moves.retry_failed(batch)
    except moves.NothingToRetry:
        raise HandoverError(None, _l("Handover %(id)s has no failed items to try again.",
                                     id=batch.id), CONFLICT) from None


def handover_of(portal: Portal, batch_id: int) -> MoveBatch | None:
    batch = db.session.get(MoveBatch, batch_id)
    return batch if batch is not None and batch.portal_id == portal.id \
        and batch.kind == HANDOVER else None


# -- what a viewer sees -------------------------------------------------------------------------
RECENT_HANDOVERS = 100


def handover_overview(portal: Portal, viewer: PortalUser, *, now: datetime
                      ) -> tuple[list[MoveBatch], list[Absence]]:
    """What the handover list shows ``viewer``: the latest handovers of the people whose
    items they may hand over (newest first), and the absences offered for a new handover
    (soonest first; portal_ext.handover.rules)."""
    people = {p.portal_user_id for p in editable_users(viewer)}
    handovers = [b for b in db.session.scalars(select(MoveBatch).where(
        MoveBatch.portal_id == portal.id, MoveBatch.kind == HANDOVER)
        .order_by(MoveBatch.id.desc()).limit(RECENT_HANDOVERS)) if b.owner_id in people]
    live = rules.live_absences(handovers)
    absences = [a for a in db.session.scalars(select(Absence).where(
        Absence.portal_id == portal.id, Absence.end > now).order_by(Absence.start))
        if rules.can_hand_over(a, viewer_id=viewer.portal_user_id, people=people, live=live,
                               now=now)]
    return handovers, absences


__all__ = ["APPLIED", "apply_handover", "discard_preview", "preview_handover",
           "restore_handover", "retry_handover"]


# -- what the give-back left alone --------------------------------------------------------------
def _conflicts_of(batch: MoveBatch, actor: PortalUser | None) -> list[Any]:
    _check_actor(batch, actor)
    if batch.state != RESTORED:
        raise HandoverError(None, _l("Only a handover that was given back can have items left "
                                     "with others."), CONFLICT)
    return moves.conflicts(batch)


def give_back_anyway(*, batch: MoveBatch, actor: PortalUser | None, client: PortalClient,
                     now: datetime) -> moves.GivenBack:
    """Write the items the give-back left with someone else back to the owner (through the
    move engine's journal; committed). Nothing left: a refusal, nothing changes."""
    if not _conflicts_of(batch, actor):
        raise HandoverError(None, _l("No item of this handover is left with someone else."),
                            CONFLICT)
    return moves.give_back_anyway(batch, client=client, now=now)


def tell_owner(*, batch: MoveBatch, actor: PortalUser | None, client: PortalClient,
               now: datetime) -> int:
    """One portal notice to the owner, in their language, about the items the give-back left
    with others; how many items it names. Told already about exactly these: nothing is sent
    again (0)."""
    from portal_ext.handover.summary import tell_owner as send

    items = _conflicts_of(batch, actor)
    if not items:
        raise HandoverError(None, _l("No item of this handover is left with someone else."),
                            CONFLICT)
    ids = sorted(item.id for item in items)
    if (batch.options or {}).get("owner_told") == ids:
        return 0
    if not send(batch, items, client=client):
        raise HandoverError(None, _l("The owner is no longer on the portal."), CONFLICT)
    batch.options = {**(batch.options or {}), "owner_told": ids, "owner_told_at": now.isoformat(),
                     "owner_told_by": actor.portal_user_id if actor is not None else None}
    db.session.commit()
    return len(ids)

"""Noticing dismissals and acting on them as the portal-wide policy says, level-triggered.

A dismissal is *recorded* where it is noticed (the in-process ``ONUSERUPDATE``, the directory's
dismissal hook during a sync or an event: portal_ext.transfers.handlers), inside that
transaction, without calling the portal. Once it commits, the job
``portal_ext.transfers.tasks.act_on_portal`` runs (at once with the inline runner, else in the
background), and the periodic tick runs it again for anything left:

- automatic mode on: the user's companies and their contacts go to the new manager at once
  (portal_ext.transfers.auto_mode);
- policy ``automatic``: the whole client base is transferred with the policy's strategy;
  policy ``confirm``: the dismissal waits on the Transfers page for an administrator.

The same tick gives absences their automatic change while they run (when the administrator
wants that too) and gives it back when they end.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select

from portal_ext import jobs, moves
from portal_ext.extensions import db
from portal_ext.moves.models import APPLIED, APPLYING, PREVIEW, RESTORING, MoveBatch
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal
from portal_ext.transfers import auto_mode, services
from portal_ext.transfers import successors as people
from portal_ext.transfers.models import (
    AUTOMATIC,
    BY_ABSENCE,
    BY_DISMISSAL,
    CLOSED,
    PENDING,
    PERSON,
    AutoChange,
    Dismissal,
)

log = logging.getLogger(__name__)


def record_dismissal(*, portal_id: int, user_id: int, now: datetime, source: str) -> Dismissal:
    """Note that ``user_id`` was dismissed (no commit); the policy acts after the commit.
    Recording the same dismissal twice (event and hook) keeps one row."""
    row = next((obj for obj in db.session.new if isinstance(obj, Dismissal)
                and (obj.portal_id, obj.user_id) == (portal_id, user_id)), None)
    if row is not None:  # recorded a moment ago in this transaction (event, then hook)
        return row
    row = db.session.scalars(select(Dismissal).where(
        Dismissal.portal_id == portal_id, Dismissal.user_id == user_id)).first()
    if row is None:
        row = Dismissal(portal_id=portal_id, user_id=user_id, detected_at=now, source=source,
                        state=PENDING)
        db.session.add(row)
    elif row.state != PENDING:  # re-hired and dismissed again
        row.state, row.detected_at, row.source, row.acted_at = PENDING, now, source, None
        row.error = row.closed_at = row.closed_by_id = None
    request_action(portal_id)
    return row


def request_action(portal_id: int) -> None:
    """Let the policy act on ``portal_id`` once the current transaction commits."""
    from portal_ext.transfers.tasks import act_on_portal

    jobs.enqueue_after_commit(act_on_portal, portal_id)


# -- acting -------------------------------------------------------------------------------------
def act_on_dismissals(*, portal: Portal, client: PortalClient, now: datetime) -> dict[str, int]:
    counts = {"acted": 0, "auto_changes": 0, "transfers": 0}
    ids = list(db.session.scalars(select(Dismissal.id).where(
        Dismissal.portal_id == portal.id, Dismissal.state == PENDING,
        Dismissal.acted_at.is_(None)).order_by(Dismissal.id)))
    for dismissal_id in ids:
        for key, value in _act(portal, client, dismissal_id, now).items():
            counts[key] += value
        counts["acted"] += 1
    return counts


def _act(portal: Portal, client: PortalClient, dismissal_id: int, now: datetime
         ) -> dict[str, int]:
    done = {"auto_changes": 0, "transfers": 0}
    dismissal = db.session.get(Dismissal, dismissal_id)
    assert dismissal is not None
    user = people.person(portal.id, dismissal.user_id)
    policy = auto_mode.get_policy(portal.id)
    errors: list[str] = []
    if user is not None and not user.active:
        if policy.auto_mode:
            successor = auto_mode.policy_successor(portal.id, policy, user)
            if successor is None:
                errors.append("automatic mode: nobody to take over")
            else:
                auto_mode.change_responsible(
                    portal=portal, client=client, user_id=user.portal_user_id,
                    successor_id=successor, reason=BY_DISMISSAL, source_id=dismissal_id,
                    now=now)
                done["auto_changes"] += 1
        if policy.on_dismissal == AUTOMATIC:
            error = _transfer_everything(portal, client, user, policy, now)
            if error is None:
                done["transfers"] += 1
            else:
                errors.append(error)
    dismissal = db.session.get(Dismissal, dismissal_id)
    assert dismissal is not None
    dismissal.acted_at = now
    dismissal.error = "; ".join(errors)[:500] or None
    db.session.commit()
    return done


def _transfer_everything(portal: Portal, client: PortalClient, user: Any, policy: Any,
                         now: datetime) -> str | None:
    """The policy's automatic transfer; an error message when it could not be made."""
    data = services.TransferInput(
        user_id=user.portal_user_id, strategy=policy.strategy,
        successors=[policy.successor_id] if policy.strategy == PERSON and policy.successor_id
        else [], include_closed=policy.include_closed)
    try:
        batch = services.create_transfer(portal=portal, client=client, actor=None, data=data,
                                         now=now)
    except services.TransferError as error:
        db.session.rollback()
        return f"automatic transfer: {error.message}"
    try:
        services.apply_transfer(portal=portal, client=client, batch=batch, actor=None,
                                now=now)
    except services.TransferError as error:
        db.session.rollback()
        preview = db.session.get(MoveBatch, batch.id)
        if preview is not None and preview.state == PREVIEW and error.field == "types":
            services.discard_transfer(batch=preview, now=now)  # owns nothing: nothing to do
            row = db.session.scalars(select(Dismissal).where(
                Dismissal.portal_id == portal.id, Dismissal.user_id == user.portal_user_id)
            ).first()
            if row is not None:
                row.state, row.closed_at = CLOSED, now
            return None
        return f"automatic transfer: {error.message}"
    return None


# -- absences -----------------------------------------------------------------------------------
def sync_absence_changes(*, portal: Portal, client: PortalClient, now: datetime
                         ) -> dict[str, int]:
    """Give running absences their automatic change (when wanted), and give back those of
    absences that ended or were deleted."""
    from portal_ext.absences.models import Absence
    from portal_ext.absences.services import cover_for

    counts = {"absence_changes": 0, "given_back": 0}
    policy = auto_mode.get_policy(portal.id)
    if policy.auto_mode and policy.auto_on_absence:
        done = set(db.session.scalars(select(AutoChange.source_id).where(
            AutoChange.portal_id == portal.id, AutoChange.reason == BY_ABSENCE)))
        running = list(db.session.scalars(select(Absence).where(
            Absence.portal_id == portal.id, Absence.start <= now, Absence.end > now)
            .order_by(Absence.id)))
        for absence in running:
            if absence.id in done:
                continue
            cover = cover_for(portal_id=portal.id, user_id=absence.user_id, at=now)
            if cover is None or cover.user_id is None:
                db.session.add(AutoChange(
                    portal_id=portal.id, reason=BY_ABSENCE, source_id=absence.id,
                    user_id=absence.user_id, created_at=now, error="nobody covers"))
                db.session.commit()
                continue
            auto_mode.change_responsible(
                portal=portal, client=client, user_id=absence.user_id,
                successor_id=cover.user_id, reason=BY_ABSENCE, source_id=absence.id, now=now)
            counts["absence_changes"] += 1
    counts["given_back"] = _give_back(portal, now)
    return counts


def _give_back(portal: Portal, now: datetime) -> int:
    from portal_ext.absences.models import Absence

    given = 0
    open_changes = list(db.session.scalars(select(AutoChange).where(
        AutoChange.portal_id == portal.id, AutoChange.reason == BY_ABSENCE,
        AutoChange.restored_at.is_(None))))
    for change in open_changes:
        absence = db.session.get(Absence, change.source_id)
        if absence is not None and absence.start <= now < absence.end:
            continue
        batch = db.session.get(MoveBatch, change.batch_id) if change.batch_id else None
        if batch is not None and batch.state == APPLYING:
            continue  # still moving: give back once it is done
        user = people.person(portal.id, change.user_id)
        if batch is not None and batch.state == APPLIED:
            if user is None or not user.active:
                change.error = "not given back: the user was dismissed"
            else:
                moves.start_restoring(batch, commit=False)
                given += 1
        change.restored_at = now
        db.session.commit()
        if batch is not None and batch.state == RESTORING:
            moves.queue_run(batch.id, restoring=True)
    return given


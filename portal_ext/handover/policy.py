"""The portal-wide handover policy and the level-triggered ends of handovers.

Each tick (portal_ext.handover.tasks) at the portal's time:

- :func:`restore_due`: every handover still with the deputy whose absence is over (its end
  passed, or it was deleted) starts restoring, whenever the tick runs: after an outage the
  first tick catches up (ARCHITECTURE "How data flows" 5);
- :func:`apply_policy`: with the policy on, every absence running now, long enough, and never
  handed over gets its handover previewed and applied at once, as an administrator would.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from portal_ext.absences.models import Absence
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.handover.errors import HandoverError
from portal_ext.handover.models import HandoverPolicy
from portal_ext.handover.services import (
    apply_handover,
    check_types,
    preview_handover,
    restore_handover,
)
from portal_ext.moves.models import APPLIED, APPLYING, HANDOVER, MoveBatch
from portal_ext.moves.types import TYPE_NAMES
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for

log = logging.getLogger(__name__)


def policy_for(portal_id: int) -> HandoverPolicy:
    """The portal's policy (off, every type, open items, new leads back, 3 days) if unset."""
    found = db.session.get(HandoverPolicy, portal_id)
    return found if found is not None else HandoverPolicy(
        portal_id=portal_id, enabled=False, types=list(TYPE_NAMES), include_closed=False,
        include_new_leads=True, min_days=3)


def save_policy(*, portal: Portal, actor: PortalUser | None, enabled: bool, types: list[str],
                include_closed: bool, include_new_leads: bool, min_days: int,
                now: datetime) -> HandoverPolicy:
    chosen = check_types(types)
    if not 0 <= int(min_days) <= 366:
        raise HandoverError("min_days", "min_days must be between 0 and 366.")
    policy = db.session.get(HandoverPolicy, portal.id)
    if policy is None:
        policy = HandoverPolicy(portal_id=portal.id)
        db.session.add(policy)
    policy.enabled, policy.types, policy.include_closed = bool(enabled), chosen, \
        bool(include_closed)
    policy.include_new_leads, policy.min_days = bool(include_new_leads), int(min_days)
    policy.updated_by = actor.portal_user_id if actor is not None else None
    policy.updated_at = now
    db.session.commit()
    return policy


def restore_due(*, portal: Portal, now: datetime) -> dict[str, int]:
    """Start restoring every handover whose absence is over or gone."""
    still_on = select(Absence.id).where(Absence.portal_id == portal.id, Absence.end > now)
    due = list(db.session.scalars(select(MoveBatch).where(
        MoveBatch.portal_id == portal.id, MoveBatch.kind == HANDOVER,
        MoveBatch.state.in_((APPLYING, APPLIED)),
        or_(MoveBatch.absence_id.is_(None), MoveBatch.absence_id.not_in(still_on)))))
    started = 0
    for batch in due:
        try:
            restore_handover(batch=batch, actor=None, client=client_for(portal), now=now)
            started += 1
        except (HandoverError, PortalError) as exc:
            db.session.rollback()
            log.warning("handover %s: restore not started: %s", batch.id, exc)
    return {"restores_started": started}


def apply_policy(*, portal: Portal, client: PortalClient, now: datetime) -> dict[str, Any]:
    policy = db.session.get(HandoverPolicy, portal.id)
    if policy is None or not policy.enabled:
        return {}
    handed = select(MoveBatch.absence_id).where(
        MoveBatch.portal_id == portal.id, MoveBatch.kind == HANDOVER,
        MoveBatch.absence_id.is_not(None))
    running = list(db.session.scalars(select(Absence).where(
        Absence.portal_id == portal.id, Absence.start <= now, Absence.end > now,
        Absence.id.not_in(handed)).order_by(Absence.start, Absence.id)))
    started = 0
    for absence in running:
        if absence.end - absence.start < timedelta(days=policy.min_days):
            continue
        try:
            batch = preview_handover(
                portal=portal, client=client, actor=None, absence_id=absence.id,
                types=policy.types, include_closed=policy.include_closed,
                include_new_leads=policy.include_new_leads, now=now)
            apply_handover(batch=batch, actor=None, confirmed=True, now=now, start="now")
            started += 1
        except (HandoverError, PortalError) as exc:
            db.session.rollback()
            log.info("absence %s: no automatic handover: %s", absence.id, exc)
    return {"policy_handovers": started}

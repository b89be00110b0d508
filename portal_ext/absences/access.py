"""Temporary read access of the deputy to the absent user's clients (optional per absence).

Granted when the absence becomes active, to whoever covers then (portal_ext.absences.rules),
moved when the cover changes, withdrawn when the absence ends, is deleted, or the option is
switched off. The state lives on the absence (``access_user_id``, ``access_granted_at``), and
:func:`sync_access` makes the portal match it on every tick, so a tick missed while the
service was down is made up by the next one.

The portal capability used: ``crm.access.grant`` / ``crm.access.revoke`` ``{USER_ID,
OWNER_ID, ACCESS: "read"}`` (the bundled simulator offers them; an on-premise portal module
can offer the same through its CRM permission API). A portal without them answers
ERROR_METHOD_NOT_FOUND: the absence records "not supported" in ``access_error`` and nothing
else breaks. Both calls are idempotent, so a retry after a crash is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import and_, or_, select

from portal_ext.absences.models import Absence
from portal_ext.absences.roster import build_roster
from portal_ext.absences.rules import resolve_cover
from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError

log = logging.getLogger(__name__)
UNSUPPORTED = "The portal offers no temporary access (crm.access.grant)."


def _describe(exc: PortalError) -> str:
    if exc.code in ("ERROR_METHOD_NOT_FOUND", "METHOD_NOT_FOUND") or exc.status == 404:
        return UNSUPPORTED
    return f"{exc.code or 'error'}: {exc.description}"[:500]


def withdraw(client: PortalClient, absence: Absence) -> None:
    """Take back the access granted for ``absence`` (no commit). Raises PortalError."""
    if absence.access_granted_at is None or absence.access_user_id is None:
        absence.access_granted_at = absence.access_user_id = None
        return
    client.call("crm.access.revoke", {"USER_ID": absence.access_user_id,
                                      "OWNER_ID": absence.user_id, "ACCESS": "read"})
    log.info("absence %s: read access of %s to %s's clients withdrawn", absence.id,
             absence.access_user_id, absence.user_id)
    absence.access_granted_at = absence.access_user_id = None


def grant(client: PortalClient, absence: Absence, deputy_id: int, now: datetime) -> None:
    client.call("crm.access.grant", {"USER_ID": deputy_id, "OWNER_ID": absence.user_id,
                                     "ACCESS": "read"})
    log.info("absence %s: read access to %s's clients granted to %s", absence.id,
             absence.user_id, deputy_id)
    absence.access_user_id, absence.access_granted_at = deputy_id, now
    absence.access_error = None


def sync_access(*, portal_id: int, client: PortalClient, now: datetime) -> dict[str, int]:
    """Withdraw what should no longer be granted, then grant what should be; commits after
    each absence so one portal failure does not undo the others."""
    counts = {"access_withdrawn": 0, "access_granted": 0, "access_failed": 0}
    stale = list(db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.access_granted_at.is_not(None),
        or_(Absence.temporary_access.is_(False), Absence.start > now, Absence.end <= now))))
    for absence in stale:
        try:
            withdraw(client, absence)
            counts["access_withdrawn"] += 1
        except PortalError as exc:
            absence.access_error = _describe(exc)
            counts["access_failed"] += 1
        db.session.commit()
    wanted = list(db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.temporary_access.is_(True),
        and_(Absence.start <= now, Absence.end > now)).order_by(Absence.id)))
    if not wanted:
        return counts
    roster = build_roster(portal_id=portal_id, at=now)
    for absence in wanted:
        deputy = resolve_cover(roster, absence.user_id, now).user_id
        if absence.access_granted_at is not None and absence.access_user_id == deputy:
            continue
        try:
            if absence.access_granted_at is not None:  # the cover moved to someone else
                withdraw(client, absence)
                counts["access_withdrawn"] += 1
            if deputy is None:
                absence.access_error = "Nobody covers for this absence now."
            else:
                grant(client, absence, deputy, now)
                counts["access_granted"] += 1
        except PortalError as exc:
            absence.access_error = _describe(exc)
            counts["access_failed"] += 1
            log.warning("absence %s: temporary access failed: %s", absence.id, exc)
        db.session.commit()
    return counts


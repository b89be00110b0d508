"""The absences' periodic reconcile tick (portal_ext.jobs.periodic), level-triggered.

Each tick, for every portal, at the portal's own time (portal_ext.portal.clock):

1. reads the absence chart when due (every ``ABSENCE_CHART_POLL_SECONDS``, or at once after a
   calendar event asked for it);
2. moves every absence to the state its period says (planned -> active -> finished; back to
   planned if its start was moved later). Nothing waits for a moment to pass: an absence whose
   start passed while the service was down becomes active at the next tick;
3. grants and withdraws temporary access to match (portal_ext.absences.access).

Running it twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, or_, select

from portal_ext import jobs
from portal_ext.absences.access import sync_access
from portal_ext.absences.chart_import import poll_chart, poll_due, record_poll_error
from portal_ext.absences.models import ACTIVE, FINISHED, PLANNED, Absence, state_at
from portal_ext.context import for_job
from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)
DEFAULT_POLL_SECONDS = 300.0


def move_states(*, portal_id: int, now: datetime) -> dict[str, int]:
    """Bring every absence's state in line with ``now`` (no commit)."""
    wrong = select(Absence).where(Absence.portal_id == portal_id, or_(
        and_(Absence.state == PLANNED, Absence.start <= now),
        and_(Absence.state == ACTIVE, or_(Absence.end <= now, Absence.start > now)),
        and_(Absence.state == FINISHED, or_(Absence.end > now, Absence.start > now))))
    counts = {"started": 0, "finished": 0, "planned": 0}
    for absence in db.session.scalars(wrong):
        absence.state = state_at(absence.start, absence.end, now)
        counts[{ACTIVE: "started", FINISHED: "finished", PLANNED: "planned"}[absence.state]] += 1
    return counts


def reconcile_absences(*, portal: Portal, client: PortalClient, now: datetime,
                       poll: bool | None = None) -> dict[str, int]:
    """One tick for one portal; ``poll`` forces (True) or skips (False) reading the chart."""
    counts: dict[str, int] = {}
    every = float(current_app.config.get("ABSENCE_CHART_POLL_SECONDS", DEFAULT_POLL_SECONDS))
    if poll or (poll is None and poll_due(portal_id=portal.id, now=now, every_seconds=every)):
        try:
            counts.update({f"chart_{k}": v for k, v in
                           poll_chart(portal=portal, client=client, now=now).items()})
        except PortalError as exc:
            # Keep ticking: states and access do not depend on the chart being readable.
            db.session.rollback()
            log.warning("portal %s: reading the absence chart failed: %s", portal.id, exc)
            record_poll_error(portal.id, now, str(exc))
            counts["chart_failed"] = 1
        db.session.commit()
    counts.update(move_states(portal_id=portal.id, now=now))
    db.session.commit()
    counts.update(sync_access(portal_id=portal.id, client=client, now=now))
    return counts


@jobs.job(name="portal_ext.absences.tasks.reconcile_portal_absences")
def reconcile_portal_absences(portal_id: int) -> dict[str, int]:
    ctx = for_job(portal_id)
    if ctx is None:
        return {}
    return reconcile_absences(portal=ctx.portal, client=ctx.client, now=ctx.now)


@jobs.periodic(name="portal_ext.absences.tasks.absences_tick")
def absences_tick() -> dict[int, dict[str, int]]:
    results: dict[int, dict[str, int]] = {}
    for portal_id in list(db.session.scalars(select(Portal.id).order_by(Portal.id))):
        try:
            results[portal_id] = reconcile_portal_absences(portal_id)
        except Exception:
            db.session.rollback()
            log.exception("absences tick failed for portal %s", portal_id)
    return results

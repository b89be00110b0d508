"""Background jobs of the fan-out (registered with portal_ext.jobs; Celery tasks of the same
name): draining the outbox, and the periodic tick that reconciles, drains what is due and, in
REST mode, looks for task deadlines coming near.

Every job takes ids, re-reads what it needs and may run twice: claims keep two drains from
sending the same copy at once, tags keep a copy sent twice from showing twice, and unique keys
keep a deadline noticed twice from being copied twice.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from portal_ext import jobs
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for, current_portal

log = logging.getLogger(__name__)


@jobs.job(name="portal_ext.notifications.tasks.drain_outbox_job")
def drain_outbox_job(portal_id: int) -> dict[str, int]:
    from portal_ext.notifications.services import drain_outbox
    from portal_ext.notifications.trigger import drain_started

    drain_started(current_app._get_current_object(), portal_id)  # type: ignore[attr-defined]
    portal = db.session.get(Portal, portal_id)
    if portal is None:
        return {}
    return drain_outbox(portal=portal, client=client_for(portal))


@jobs.periodic(name="portal_ext.notifications.tasks.notifications_tick")
def notifications_tick() -> dict[str, int]:
    """Fail deliveries that keep killing their drain, then send everything due (copies whose
    drain was lost, retries whose backoff is over)."""
    from portal_ext.notifications.services import drain_outbox, reconcile_deliveries

    portal = current_portal()
    given_up = reconcile_deliveries(portal=portal, now=host_utcnow())
    try:
        counts = drain_outbox(portal=portal, client=client_for(portal))
    except PortalError as exc:
        log.warning("notifications tick: %s", exc)
        counts = {}
    return {**counts, "given_up": given_up}


@jobs.periodic(name="portal_ext.notifications.tasks.deadline_check_tick")
def deadline_check_tick() -> int:
    """REST mode: copy "deadline soon" and "overdue" notices the portal sent (derived from
    the tasks; in-process the portal's own notices arrive as events)."""
    portal = current_portal()
    if portal.mode != "rest":
        return 0
    try:
        return check_deadlines(portal_id=portal.id)
    except PortalError as exc:
        log.warning("deadline check: %s", exc)
        db.session.rollback()
        return 0


def check_deadlines(*, portal_id: int, now: Any = None) -> int:
    """Derive the deadline notices due by the portal's clock (or ``now``), fan them out and
    commit; returns how many copies were decided (copies already recorded by an earlier
    check are not recorded again)."""
    from portal_ext.context import for_portal
    from portal_ext.notifications.derived import due_tasks
    from portal_ext.notifications.services import fan_out

    portal = db.session.get(Portal, portal_id)
    if portal is None:
        return 0
    ctx = for_portal(portal, now=now)
    client, moment, zone = ctx.client, ctx.now, ctx.tz

    def iso(value: Any) -> str:
        from portal_ext.absences.times import iso_local

        return str(iso_local(value, zone))

    notices = due_tasks(client=client, now=moment, iso=iso)
    copies = fan_out(notices, portal=portal).copies
    db.session.commit()
    return copies

"""The stage robots' job: the periodic catch-up of every portal (robots checked, broken ones
reported; the stage history read past the cursor, so entries the events missed still fire)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from portal_ext import jobs
from portal_ext.context import for_job
from portal_ext.extensions import db
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal
from portal_ext.robots import services
from portal_ext.robots.models import StageRobot

log = logging.getLogger(__name__)


@jobs.job(name="portal_ext.robots.tasks.catch_up_portal")
def catch_up_portal(portal_id: int) -> dict[str, int]:
    ctx = for_job(portal_id)
    if ctx is None:
        return {}
    try:
        return services.catch_up(ctx)
    except PortalError as exc:
        db.session.rollback()
        log.warning("stage robots catch-up of portal %s: %s", portal_id, exc)
        return {"portal_error": 1}


@jobs.periodic(name="portal_ext.robots.tasks.robots_tick")
def robots_tick() -> dict[int, dict[str, int]]:
    results: dict[int, dict[str, int]] = {}
    with_robots = set(db.session.scalars(select(StageRobot.portal_id).distinct()))
    for portal_id in list(db.session.scalars(select(Portal.id).order_by(Portal.id))):
        if portal_id not in with_robots:
            continue
        try:
            results[portal_id] = catch_up_portal(portal_id)
        except Exception:
            db.session.rollback()
            log.exception("stage robots catch-up failed for portal %s", portal_id)
    return results

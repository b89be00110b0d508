"""The cadence's jobs: the full resync of one portal's read model (resumable: a run picks up
a resync left running), the tick that resyncs every configured portal once a night, which
catches anything the events missed, and the tick that sends the daily digests
(portal_ext.cadence.digest)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo

from flask import current_app
from sqlalchemy import select

from portal_ext import jobs
from portal_ext.cadence import digest, services
from portal_ext.cadence.models import RUNNING, CadenceSettings
from portal_ext.context import for_job
from portal_ext.extensions import db
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)
NIGHTLY_HOUR = 2


@jobs.job(name="portal_ext.cadence.tasks.resync_portal")
def resync_portal(portal_id: int, restart: bool = False) -> dict[str, int]:
    ctx = for_job(portal_id)
    if ctx is None:
        return {}
    try:
        row = services.run_resync(portal=ctx.portal, client=ctx.client, tz=ctx.tz, now=ctx.now,
                                  restart=restart)
    except PortalError as exc:
        log.warning("cadence resync of portal %s: %s", portal_id, exc)
        return {"portal_error": 1}
    return {"requests": row.requests}


def _due_for_resync(portal_id: int, now: datetime, tz: tzinfo) -> bool:
    """A configured portal resyncs once a night (from 02:00 portal time), and a resync left
    running is resumed."""
    if db.session.get(CadenceSettings, portal_id) is None:
        return False
    row = services.resync_state(portal_id)
    if row is None or row.state == RUNNING:
        return True
    local = now.replace(tzinfo=UTC).astimezone(tz)
    last = row.started_at.replace(tzinfo=UTC).astimezone(tz).date() if row.started_at else None
    return local.hour >= NIGHTLY_HOUR and (last is None or last < local.date())


@jobs.periodic(name="portal_ext.cadence.tasks.cadence_tick")
def cadence_tick() -> dict[int, dict[str, int]]:
    results: dict[int, dict[str, int]] = {}
    for portal_id in list(db.session.scalars(select(Portal.id).order_by(Portal.id))):
        try:
            ctx = for_job(portal_id)
            if ctx is None or not _due_for_resync(portal_id, ctx.now, ctx.tz):
                continue
            row = services.resync_state(portal_id)
            results[portal_id] = resync_portal(
                portal_id, restart=row is None or row.state != RUNNING)
        except Exception:
            db.session.rollback()
            log.exception("cadence resync failed for portal %s", portal_id)
    return results


def extension_url() -> str:
    """Where the digest's links point: the extension's address."""
    return str(current_app.config.get("EXTENSION_URL") or current_app.config["PORTAL_URL"])


@jobs.periodic(name="portal_ext.cadence.tasks.digest_tick")
def digest_tick() -> dict[int, dict[str, object]]:
    """Send each configured portal's daily digests that are due and not sent yet."""
    results: dict[int, dict[str, object]] = {}
    for portal_id in list(db.session.scalars(select(CadenceSettings.portal_id)
                                             .order_by(CadenceSettings.portal_id))):
        try:
            ctx = for_job(portal_id)
            if ctx is None:
                continue
            results[portal_id] = digest.send_digests(portal=ctx.portal, client=ctx.client,
                                                     now=ctx.now, tz=ctx.tz,
                                                     base_url=extension_url())
        except Exception:
            db.session.rollback()
            log.exception("cadence digest failed for portal %s", portal_id)
    return results

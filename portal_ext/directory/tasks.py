"""The directory's jobs: a full sync of one portal, and the periodic resync of a stale copy.

The copy's age (``synced_at``) is bookkeeping, kept and compared by the host's clock.

Task names are pinned (portal_ext.jobs): they still name ``directory.services``, where these
jobs were first defined, so messages queued under those names keep finding them.
"""

from __future__ import annotations

from flask import current_app

from portal_ext import jobs
from portal_ext.directory.services import directory_is_stale, sync_directory
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for, current_portal


@jobs.job(name="portal_ext.directory.services.sync_directory_job")
def sync_directory_job(portal_id: int) -> dict[str, int]:
    portal = db.session.get(Portal, portal_id)
    if portal is None:
        return {}
    return sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())


@jobs.periodic(name="portal_ext.directory.services.sync_directory_tick")
def sync_directory_tick() -> dict[str, int]:
    """Resync when the copy is older than DIRECTORY_SYNC_SECONDS (the portal sends no event
    for department changes, so events alone do not keep it right)."""
    portal = current_portal()
    now = host_utcnow()
    if not directory_is_stale(portal=portal, now=now,
                              max_age=float(current_app.config["DIRECTORY_SYNC_SECONDS"])):
        return {}
    return sync_directory(portal=portal, client=client_for(portal), now=now)

"""The directory's jobs: a full sync of one portal, and the periodic resync of a stale copy.

Task names are pinned (portal_ext.jobs): they still name ``directory.services``, where these
jobs were first defined, so messages queued under those names keep finding them.
"""

from __future__ import annotations

from flask import current_app

from portal_ext import jobs
from portal_ext.context import for_job, for_portal
from portal_ext.directory.services import directory_is_stale, sync_directory
from portal_ext.portal.registration import current_portal


@jobs.job(name="portal_ext.directory.services.sync_directory_job")
def sync_directory_job(portal_id: int) -> dict[str, int]:
    ctx = for_job(portal_id)
    if ctx is None:
        return {}
    return sync_directory(portal=ctx.portal, client=ctx.client, now=ctx.now)


@jobs.periodic(name="portal_ext.directory.services.sync_directory_tick")
def sync_directory_tick() -> dict[str, int]:
    """Resync when the copy is older than DIRECTORY_SYNC_SECONDS (the portal sends no event
    for department changes, so events alone do not keep it right)."""
    ctx = for_portal(current_portal())
    if not directory_is_stale(portal=ctx.portal, now=ctx.now,
                              max_age=float(current_app.config["DIRECTORY_SYNC_SECONDS"])):
        return {}
    return sync_directory(portal=ctx.portal, client=ctx.client, now=ctx.now)

"""The transfers' jobs: acting on one portal's dismissals and absences, and the periodic tick
that does so for every portal (portal_ext.transfers.dismissals says what acting means).

Task names are pinned (portal_ext.jobs): they still name ``transfers.dismissals``, where these
jobs were first defined, so messages queued under those names keep finding them.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from portal_ext import jobs, moves
from portal_ext.context import for_job
from portal_ext.extensions import db
from portal_ext.moves.models import TRANSFER, MoveBatch
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal
from portal_ext.transfers.dismissals import act_on_dismissals, sync_absence_changes

log = logging.getLogger(__name__)


def _announce_end(batch: MoveBatch, client: PortalClient) -> None:
    """A transfer's run finished: one summary to each person concerned
    (portal_ext.handover.summary), as for a handover."""
    from portal_ext.handover.summary import send_summaries

    send_summaries(batch, client=client)


moves.on_kind(TRANSFER, moves.KindSteps(finished=_announce_end))



@jobs.job(name="portal_ext.transfers.dismissals.act_on_portal")
def act_on_portal(portal_id: int) -> dict[str, int]:
    ctx = for_job(portal_id)
    if ctx is None:
        return {}
    try:
        counts = act_on_dismissals(portal=ctx.portal, client=ctx.client, now=ctx.now)
        counts.update(sync_absence_changes(portal=ctx.portal, client=ctx.client, now=ctx.now))
    except PortalError as exc:  # the portal is away: the next tick tries again
        db.session.rollback()
        log.warning("transfers of portal %s: %s", portal_id, exc)
        return {"portal_error": 1}
    return counts


@jobs.periodic(name="portal_ext.transfers.dismissals.transfers_tick")
def transfers_tick() -> dict[int, dict[str, int]]:
    results: dict[int, dict[str, int]] = {}
    for portal_id in list(db.session.scalars(select(Portal.id).order_by(Portal.id))):
        try:
            results[portal_id] = act_on_portal(portal_id)
        except Exception:
            db.session.rollback()
            log.exception("transfers tick failed for portal %s", portal_id)
    return results

"""The handover's periodic tick and its steps in the move engine's runs.

The moves themselves run in the move engine's jobs (portal_ext.moves.tasks). The tick is
level-triggered (ARCHITECTURE "How data flows" 5): it restores handovers whose absence is over,
even long after (an outage), starts the confirmed handovers waiting for their absence to begin,
applies the portal-wide handover policy, and resumes every batch left ``applying`` or
``restoring`` (a worker killed, a message lost).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from portal_ext import jobs, moves
from portal_ext.context import for_job
from portal_ext.extensions import db
from portal_ext.moves.models import HANDOVER, MoveBatch
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import portal_now
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)


def _adopt_new_leads(batch: MoveBatch, client: PortalClient) -> None:
    """A handover settled when its absence was deleted: adopt the deputy's new leads for the
    owner's clients (what ``restore_handover`` does first) before giving things back."""
    from portal_ext.handover.new_leads import adopt_new_leads

    if "adopt_from" not in (batch.options or {}):
        return
    if (batch.options or {}).get("include_new_leads"):
        adopt_new_leads(batch, client=client, now=portal_now(client))
    batch.options = {k: v for k, v in (batch.options or {}).items() if k != "adopt_from"}
    db.session.commit()


def _announce_end(batch: MoveBatch, client: PortalClient) -> None:
    """A run finished: one summary to each person concerned (portal_ext.handover.summary);
    the notice's tag makes a second one for the same run replace the first on the portal."""
    from portal_ext.handover.summary import send_summaries

    send_summaries(batch, client=client)


STEPS = moves.KindSteps(before_restoring=_adopt_new_leads, finished=_announce_end)
moves.on_kind(HANDOVER, STEPS)




@jobs.periodic(name="portal_ext.handover.tasks.handover_tick")
def handover_tick() -> dict[int, dict[str, Any]]:
    from portal_ext.handover.policy import apply_policy, restore_due
    from portal_ext.handover.services import start_scheduled

    results: dict[int, dict[str, Any]] = {}
    for portal_id in list(db.session.scalars(select(Portal.id).order_by(Portal.id))):
        try:
            ctx = for_job(portal_id)
            assert ctx is not None
            counts: dict[str, Any] = dict(restore_due(portal=ctx.portal, now=ctx.now))
            counts.update(start_scheduled(portal=ctx.portal, now=ctx.now))
            counts.update(apply_policy(portal=ctx.portal, client=ctx.client, now=ctx.now))
            counts.update(moves.resume_batches(portal_id))
            results[portal_id] = counts
        except Exception:
            db.session.rollback()
            log.exception("handover tick failed for portal %s", portal_id)
    return results

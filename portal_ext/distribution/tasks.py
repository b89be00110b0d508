"""Lead distribution's jobs: a visit report's run (portal_ext.distribution.services.run), and
the tick that takes up runs a killed worker or a lost message left behind."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from portal_ext import jobs
from portal_ext.context import for_job
from portal_ext.distribution import services
from portal_ext.extensions import db
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)


@jobs.job(name="portal_ext.distribution.tasks.run_report")
def run_report(report_id: int) -> str:
    from portal_ext.distribution.models import DONE, VisitReport

    report = db.session.get(VisitReport, report_id)
    if report is None or report.state == DONE:
        return "skipped"
    ctx = for_job(report.portal_id)
    if ctx is None:
        return "skipped"
    try:
        ran = services.run(report, client=ctx.client, now=ctx.now, names=ctx.names())
    except PortalError as exc:
        db.session.rollback()
        log.warning("visit report %s: %s", report_id, exc)
        report = db.session.get(VisitReport, report_id)
        if report is not None:
            services.fail(report, str(exc))
        return "failed"
    return "done" if ran else "busy"


@jobs.periodic(name="portal_ext.distribution.tasks.distribution_tick")
def distribution_tick() -> dict[int, int]:
    """Queue again every visit report whose run stalled longer than
    ``DISTRIBUTION_STALE_SECONDS`` (default 300)."""
    stale = timedelta(seconds=float(current_app.config["DISTRIBUTION_STALE_SECONDS"]))
    resumed: dict[int, int] = {}
    for portal_id in list(db.session.scalars(select(Portal.id).order_by(Portal.id))):
        ctx = for_job(portal_id)
        if ctx is None:
            continue
        count = services.resume_stale(portal_id, now=ctx.now, stale=stale)
        if count:
            resumed[portal_id] = count
    return resumed

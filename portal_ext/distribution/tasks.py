"""Lead distribution's job: a visit report's run (portal_ext.distribution.services.run)."""

from __future__ import annotations

import logging

from portal_ext import jobs
from portal_ext.context import for_job
from portal_ext.distribution import services
from portal_ext.extensions import db
from portal_ext.portal.errors import PortalError

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
        services.run(report, client=ctx.client, now=ctx.now, names=ctx.names())
    except PortalError as exc:
        db.session.rollback()
        log.warning("visit report %s: %s", report_id, exc)
        services.fail(report, str(exc))
        return "failed"
    return "done"

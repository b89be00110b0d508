"""The distribution report: deals per manager and department over a period, so a head sees
whether the picks are fair. Counted from the extension's own picks (one per deal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from portal_ext.distribution.models import Pick, VisitReport
from portal_ext.extensions import db


@dataclass(frozen=True)
class Row:
    department_id: int
    user_id: int
    deals: int
    main: int  # reports where they were the main manager


def deals_per_manager(portal_id: int, *, since: datetime | None = None,
                      until: datetime | None = None,
                      departments: set[int] | None = None) -> list[Row]:
    """Rows by department then most deals first; ``until`` is exclusive; ``departments``:
    only those (a head's own)."""
    stmt = select(Pick.department_id, Pick.user_id, func.count()).where(
        Pick.portal_id == portal_id)
    if departments is not None:
        stmt = stmt.where(Pick.department_id.in_(sorted(departments) or [0]))
    main_stmt = select(VisitReport.main_manager_id, func.count()).where(
        VisitReport.portal_id == portal_id)
    if since is not None:
        stmt = stmt.where(Pick.picked_at >= since)
        main_stmt = main_stmt.where(VisitReport.created_at >= since)
    if until is not None:
        stmt = stmt.where(Pick.picked_at < until)
        main_stmt = main_stmt.where(VisitReport.created_at < until)
    mains = {int(uid): int(n) for uid, n in db.session.execute(
        main_stmt.group_by(VisitReport.main_manager_id)) if uid is not None}
    rows = [Row(int(dep), int(uid), int(n), mains.get(int(uid), 0)) for dep, uid, n in
            db.session.execute(stmt.group_by(Pick.department_id, Pick.user_id))]
    return sorted(rows, key=lambda r: (r.department_id, -r.deals, r.user_id))

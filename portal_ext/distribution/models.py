"""What lead distribution keeps: the service lines, the portal's distribution settings, the
visit reports with their decisions, and one row per pick (quotas, rotation, who waited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db

# VisitReport.state
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
REPORT_STATES: tuple[str, ...] = (QUEUED, RUNNING, DONE, FAILED)


class ServiceLine(db.Model):  # type: ignore[name-defined]
    """A service the company sells: the department that serves it, and the deal pipeline and
    first stage its deals start in. A line reports name is retired, never removed."""

    __tablename__ = "distribution_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int] = mapped_column(Integer)  # portal department id
    category_id: Mapped[int] = mapped_column(Integer, default=0)
    stage_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)  # the priority order
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class DistributionSettings(db.Model):  # type: ignore[name-defined]
    """One row per portal; a portal without a row has the defaults (portal_ext.distribution
    .services.DEFAULTS)."""

    __tablename__ = "distribution_settings"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class VisitReport(db.Model):  # type: ignore[name-defined]
    """A field representative's report on a lead's visit, and the run it started: decisions
    are taken on submission; the run creates the deals, the control task, converts the lead
    and notifies, recording each id as it goes (``deals``: line id -> deal id)."""

    __tablename__ = "distribution_visit_report"
    __table_args__ = (UniqueConstraint("portal_id", "lead_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    lead_id: Mapped[int] = mapped_column(Integer)
    line_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    visited_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    author_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    decisions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    main_decision: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    main_manager_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deals: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    control_task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lead_converted: Mapped[bool] = mapped_column(Boolean, default=False)
    notified: Mapped[list[int]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The client as the representative filed it (company, contact, phone, email), prefilled
    # from the lead; the company and contact the deals are bound to (made from it if missing).
    client: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    company_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    contact_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Pick(db.Model):  # type: ignore[name-defined]
    """One manager picked for one line of one report (quotas count these per day; round
    robin continues after the last; least loaded breaks ties by the oldest)."""

    __tablename__ = "distribution_pick"
    __table_args__ = (UniqueConstraint("report_id", "line_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("distribution_visit_report.id"),
                                           index=True)
    line_id: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    picked_at: Mapped[datetime] = mapped_column(DateTime)


class VisitTask(db.Model):  # type: ignore[name-defined]
    """The visit task a new lead got for a field representative (one per lead)."""

    __tablename__ = "distribution_visit_task"
    __table_args__ = (UniqueConstraint("portal_id", "lead_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    lead_id: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[int] = mapped_column(Integer)
    representative_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)

"""What the deadline guard keeps: the policies, what it knows of each task's deadline, the
deadline requests and the audit of every change.

People, tasks and departments are the portal's ids. Instants are naive UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from portal_ext.extensions import db

# DeadlinePolicy.scope
DEFAULT, DEPARTMENT, ROBOTS = "default", "department", "robots"
SCOPES: tuple[str, ...] = (DEFAULT, DEPARTMENT, ROBOTS)

# DeadlineRequest.state
PENDING, APPLIED, APPROVED, DECLINED, ESCALATED, FAILED = (
    "pending", "applied", "approved", "declined", "escalated", "failed")
REQUEST_STATES: tuple[str, ...] = (PENDING, APPLIED, APPROVED, DECLINED, ESCALATED, FAILED)

# DeadlineChange.outcome
ACCEPTED, VETOED, REVERTED, EXEMPT = "accepted", "vetoed", "reverted", "exempt"
OUTCOMES: tuple[str, ...] = (ACCEPTED, APPROVED, DECLINED, VETOED, REVERTED, EXEMPT)


class DeadlinePolicy(db.Model):  # type: ignore[name-defined]
    """The portal-wide default, one override per department, and the stage robots' tasks'
    policy. A portal without a default row has the mode ``free`` and no limits."""

    __tablename__ = "deadline_policy"
    __table_args__ = (UniqueConstraint("portal_id", "scope", "department_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int] = mapped_column(Integer, default=0)  # 0 unless a department's
    mode: Mapped[str] = mapped_column(String(24))
    max_postponements: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_delay_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exempt_heads: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class DeadlineTrack(db.Model):  # type: ignore[name-defined]
    """What the guard knows of one task's deadline: the original (the first it saw), the
    current one as last recorded, and how many postponements it has recorded."""

    __tablename__ = "deadline_track"
    __table_args__ = (UniqueConstraint("portal_id", "task_id"),
                      Index("ix_deadline_track_pending", "portal_id", "pending_since"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    task_id: Mapped[int] = mapped_column(Integer)
    original_deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    current_deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    postponements: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The REST path: the task's own ALLOW_CHANGE_DEADLINE while the guard holds it at N (None:
    # the guard left the flag alone), whether the task got its "request a change" link, the
    # guard's last revert, and why the task could not be read (recorded, not retried).
    own_flag: Mapped[str | None] = mapped_column(String(1), nullable=True)
    link_posted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    read_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    read_failed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # A task event came and the task is still to be read (host time of the first such event).
    pending_since: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # A stage robot's task: "" binds it by the robots' policy, a mode by that mode alone.
    robot_policy: Mapped[str | None] = mapped_column(String(24), nullable=True)


class DeadlineRequest(db.Model):  # type: ignore[name-defined]
    """A person's request to move a task's deadline, and what came of it."""

    __tablename__ = "deadline_request"
    __table_args__ = (Index("ix_deadline_request_portal_state", "portal_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    task_id: Mapped[int] = mapped_column(Integer, index=True)
    task_title: Mapped[str] = mapped_column(String(255), default="")
    requester_id: Mapped[int] = mapped_column(Integer, index=True)
    responsible_id: Mapped[int] = mapped_column(Integer)
    old_deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    new_deadline: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    approver_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    decided_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class DeadlineChange(db.Model):  # type: ignore[name-defined]
    """One deadline change (or attempt), whatever way it took: the audit."""

    __tablename__ = "deadline_change"
    __table_args__ = (Index("ix_deadline_change_portal_at", "portal_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    task_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)  # who moved it
    responsible_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    old_deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    new_deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    approver_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    postponement_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)  # event to revert


class DeadlineSync(db.Model):  # type: ignore[name-defined]
    """The REST path's last resync of one portal (snapshot against the portal's tasks)."""

    __tablename__ = "deadline_sync"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    tasks: Mapped[int] = mapped_column(Integer, default=0)
    reverted: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

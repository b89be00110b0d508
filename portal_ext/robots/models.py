"""What the stage robots keep: the robots, each robot's versions, the runs (one per robot and
stage entry: the exactly-once key), the catch-up's cursor and the portal's extra holidays.

People, items, tasks and stage history records are the portal's ids. Instants are naive UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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

from portal_ext.extensions import db

LEAD, DEAL = "lead", "deal"
ENTITIES: tuple[str, ...] = (LEAD, DEAL)
CLOSE, KEEP = "close", "keep"
ON_LEAVE: tuple[str, ...] = (CLOSE, KEEP)

# RobotRun.outcome
PENDING, CREATED, SKIPPED, FAILED, CLOSED = "pending", "created", "skipped", "failed", "closed"
OUTCOMES: tuple[str, ...] = (PENDING, CREATED, SKIPPED, FAILED, CLOSED)

# RobotVersion.action
CREATE, UPDATE, REVERT, ENABLE, DISABLE, DELETE = (
    "created", "updated", "reverted", "enabled", "disabled", "deleted")
ACTIONS: tuple[str, ...] = (CREATE, UPDATE, REVERT, ENABLE, DISABLE, DELETE)


class StageRobot(db.Model):  # type: ignore[name-defined]
    """A robot: on entering ``status_id`` of ``entity`` (a deal's in ``category_id``), a task."""

    __tablename__ = "stage_robot"
    __table_args__ = (Index("ix_stage_robot_portal_stage", "portal_id", "entity", "status_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    entity: Mapped[str] = mapped_column(String(8))
    category_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    responsible: Mapped[str] = mapped_column(String(16), default="responsible")
    deadline_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deadline_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    policy: Mapped[str] = mapped_column(String(24), default="")
    auditors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    task_control: Mapped[bool] = mapped_column(Boolean, default=False)
    checklist: Mapped[list[str]] = mapped_column(JSON, default=list)
    on_leave: Mapped[str] = mapped_column(String(8), default=KEEP)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    active_since: Mapped[datetime] = mapped_column(DateTime)  # entries before it do not fire
    broken: Mapped[str | None] = mapped_column(Text, nullable=True)  # why, when broken
    broken_field: Mapped[str | None] = mapped_column(String(32), nullable=True)
    broken_reported_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class RobotVersion(db.Model):  # type: ignore[name-defined]
    """One saved state of a robot: who changed what, when."""

    __tablename__ = "stage_robot_version"
    __table_args__ = (UniqueConstraint("robot_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    robot_id: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    changed: Mapped[list[str]] = mapped_column(JSON, default=list)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime)


class RobotRun(db.Model):  # type: ignore[name-defined]
    """A robot fired for one stage entry of one item (``entry_key`` is the entry's identity:
    the stage history record ``h<id>``, or ``<stage>@<time>`` from an in-process event)."""

    __tablename__ = "stage_robot_run"
    __table_args__ = (
        UniqueConstraint("portal_id", "robot_id", "entity", "item_id", "entry_key"),
        Index("ix_stage_robot_run_item", "portal_id", "entity", "item_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    robot_id: Mapped[int] = mapped_column(Integer, index=True)
    robot_version: Mapped[int] = mapped_column(Integer, default=1)
    entity: Mapped[str] = mapped_column(String(8))
    item_id: Mapped[int] = mapped_column(Integer)
    entry_key: Mapped[str] = mapped_column(String(96))
    stage_id: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    responsible_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default=PENDING)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RobotCursor(db.Model):  # type: ignore[name-defined]
    """How far the catch-up has read the portal's stage history of one entity."""

    __tablename__ = "stage_robot_cursor"
    __table_args__ = (UniqueConstraint("portal_id", "entity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    entity: Mapped[str] = mapped_column(String(8))
    last_history_id: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RobotHolidays(db.Model):  # type: ignore[name-defined]
    """Public holidays the administrator added for the robots' working time, kept as the
    portal keeps its own (``"1.01,7.01"``: day and month, recurring every year)."""

    __tablename__ = "stage_robot_holidays"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    year_holidays: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    updated_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

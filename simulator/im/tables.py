"""The im service's table: the notifications in every user's inbox."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text

from simulator.core.tables import metadata

notifications = Table(
    "sim_notification",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),  # the recipient
    Column("from_user_id", Integer, nullable=True),  # None for system notifications
    Column("notify_type", String(16), nullable=False),  # system / personal / portal
    Column("kind", String(32), nullable=False, default="message"),  # crm_assigned, task_comment...
    Column("message", Text, nullable=False),
    Column("tag", String(255), nullable=True),
    Column("sub_tag", String(255), nullable=True),
    Column("entity_type", String(32), nullable=True),  # LEAD, DEAL, TASK, ...
    Column("entity_id", Integer, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("is_read", Boolean, nullable=False, default=False),
    Index("ix_sim_notification_user_tag", "user_id", "tag"),
    sqlite_autoincrement=True,
)

"""The tasks service's tables: tasks, their comments and their history."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Integer, String, Table, Text

from simulator.core.tables import metadata

tasks = Table(
    "sim_task",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_by", Integer, nullable=False),
    Column("responsible_id", Integer, nullable=False, index=True),
    Column("deadline", DateTime, nullable=True),
    Column("status", Integer, nullable=False, default=2),  # 2 waiting .. 5 completed, 6 deferred
    Column("priority", Integer, nullable=False, default=1),
    Column("allow_change_deadline", Boolean, nullable=False, default=False),
    Column("task_control", Boolean, nullable=False, default=False),
    Column("group_id", Integer, nullable=False, default=0),
    Column("created_date", DateTime, nullable=False),
    Column("changed_date", DateTime, nullable=False),
    Column("closed_date", DateTime, nullable=True),
    Column("uf_crm_task", JSON, nullable=False, default=list),  # ["L_4", "D_12"]
    Column("fields", JSON, nullable=False, default=dict),  # ACCOMPLICES, AUDITORS, ...
    Column("deadline_notice", String(16), nullable=True),  # 'soon' / 'overdue' already told
    sqlite_autoincrement=True,
)

task_comments = Table(
    "sim_task_comment",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, ForeignKey("sim_task.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("author_id", Integer, nullable=False),
    Column("post_message", Text, nullable=False),
    Column("post_date", DateTime, nullable=False),
    sqlite_autoincrement=True,
)

task_history = Table(
    "sim_task_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, ForeignKey("sim_task.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("created_date", DateTime, nullable=False),
    Column("field", String(64), nullable=False),
    Column("from_value", Text, nullable=True),
    Column("to_value", Text, nullable=True),
    Column("user_id", Integer, nullable=False),
    sqlite_autoincrement=True,
)

task_checklist = Table(
    "sim_task_checklist",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, ForeignKey("sim_task.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("title", String(255), nullable=False),
    Column("sort_index", Integer, nullable=False, default=0),
    Column("is_complete", Boolean, nullable=False, default=False),
    Column("created_by", Integer, nullable=False),
    sqlite_autoincrement=True,
)

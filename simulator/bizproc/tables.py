"""The automation's tables: robots applications registered (``bizproc.robot.*``), where the
portal's automation places them (one row per robot on a lead status or deal stage), each run
the portal started (its event token and the application's answer), and the applications'
installations."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from simulator.core.tables import metadata

robots = Table(
    "sim_bizproc_robot",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("code", String(128), nullable=False),
    Column("handler", String(1024), nullable=False),
    Column("auth_user_id", Integer, nullable=True),
    Column("use_subscription", String(1), nullable=False, default=""),
    Column("name", JSON, nullable=False),
    Column("description", JSON, nullable=True),
    Column("properties", JSON, nullable=False),
    Column("return_properties", JSON, nullable=False),
    Column("document_type", JSON, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("client_id", "code"),
    sqlite_autoincrement=True,
)

placements = Table(
    "sim_bizproc_placement",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entity", String(16), nullable=False),  # LEAD | DEAL
    Column("status_id", String(64), nullable=False),  # the lead status or deal stage
    Column("robot_id", Integer, ForeignKey("sim_bizproc_robot.id", ondelete="CASCADE"),
           nullable=False),
    Column("properties", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    sqlite_autoincrement=True,
)

runs = Table(
    "sim_bizproc_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_token", String(255), nullable=False, unique=True),
    Column("workflow_id", String(64), nullable=False),
    Column("robot_id", Integer, nullable=False),
    Column("placement_id", Integer, nullable=True),
    Column("client_id", String(64), nullable=False),
    Column("code", String(128), nullable=False),
    Column("document_id", JSON, nullable=False),
    Column("properties", JSON, nullable=False),
    # sent (waiting for the answer) | completed (answered) | failed (the handler did not take
    # it) | done (no subscription: nothing to wait for)
    Column("state", String(16), nullable=False),
    Column("delivery_status", Integer, nullable=True),
    Column("delivery_error", Text, nullable=True),
    Column("return_values", JSON, nullable=True),
    Column("log_message", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("answered_at", DateTime, nullable=True),
    sqlite_autoincrement=True,
)

installs = Table(
    "sim_app_install",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("handler", String(1024), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("delivery_status", Integer, nullable=True),
    Column("installed_at", DateTime, nullable=False),
    sqlite_autoincrement=True,
)

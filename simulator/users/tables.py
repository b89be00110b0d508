"""The users service's tables: departments and users (the company structure)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, String, Table

from simulator.core.tables import metadata

departments = Table(
    "sim_department",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("sort", Integer, nullable=False, default=500),
    Column("parent", Integer, nullable=True),
    Column("head", Integer, nullable=True),  # UF_HEAD
    sqlite_autoincrement=True,
)

users = Table(
    "sim_user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("name", String(100), nullable=False, default=""),
    Column("last_name", String(100), nullable=False, default=""),
    Column("second_name", String(100), nullable=False, default=""),
    Column("email", String(255), nullable=False, unique=True),
    Column("work_position", String(255), nullable=False, default=""),
    Column("departments", JSON, nullable=False, default=list),  # UF_DEPARTMENT
    Column("password_hash", String(255), nullable=True),
    Column("webhook_token", String(64), nullable=True, index=True),
    Column("date_register", DateTime, nullable=False),
    Column("fields", JSON, nullable=False, default=dict),  # PERSONAL_*, UF_* ...
    sqlite_autoincrement=True,
)

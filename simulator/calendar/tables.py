"""The calendar's table: the absence chart. An absence names its user by a foreign key to
``sim_user`` (the users service), the one reference across services in the schema."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table

from simulator.core.tables import metadata

absences = Table(
    "sim_absence",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("sim_user.id"), nullable=False, index=True),
    Column("date_from", DateTime, nullable=False),
    Column("date_to", DateTime, nullable=False),
    Column("absence_type", String(32), nullable=False),  # VACATION, ASSIGNMENT, SICK, ...
    Column("name", String(255), nullable=False, default=""),  # the reason
    Column("date_modify", DateTime, nullable=False),
    sqlite_autoincrement=True,
)

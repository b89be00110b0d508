"""The telephony service's table: one statistics record per call (``voximplant.statistic.get``)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table

from simulator.core.tables import metadata

call_statistics = Table(
    "sim_call_statistic",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(64), nullable=False, unique=True),
    Column("external_call_id", String(64), nullable=True),
    Column("portal_user_id", Integer, nullable=True),
    Column("portal_number", String(32), nullable=True),
    Column("phone_number", String(32), nullable=True),
    Column("call_type", Integer, nullable=False),  # 1 out, 2 in, 3 in-redirect, 4 callback
    Column("call_duration", Integer, nullable=False, default=0),
    Column("call_start_date", DateTime, nullable=False),
    Column("call_failed_code", String(8), nullable=True),  # None while the call is going on
    Column("call_failed_reason", String(255), nullable=True),
    Column("crm_entity_type", String(16), nullable=True),  # CONTACT | COMPANY | LEAD
    Column("crm_entity_id", Integer, nullable=True),
    Column("crm_activity_id", Integer, nullable=True),
    Column("call_vote", Integer, nullable=True),
    Column("cost", String(16), nullable=True),
    Index("ix_sim_call_statistic_activity", "crm_activity_id"),
    sqlite_autoincrement=True,
)

"""The CRM's tables: items, activities and their bindings, user fields and read grants.

All CRM entity types (lead 1, deal 2, contact 3, company 4, quote 7, smart invoice 31) live in
one table, ``sim_crm_item``, with the fields every type shares promoted to indexed columns and
everything else (names, multifields, ``UF_CRM_*`` values) in ``fields`` (JSON). One id sequence
serves all types: ids are unique per type, as on the portal, but not contiguous.

User fields are configuration read on every write: they are cached per process
(simulator.core.config_cache), which watches ``sim_userfield`` for changes.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from simulator.core import config_cache
from simulator.core.tables import metadata

crm_items = Table(
    "sim_crm_item",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entity_type_id", Integer, nullable=False),
    Column("title", String(255), nullable=False, default=""),
    Column("assigned_by_id", Integer, nullable=True),
    Column("created_by_id", Integer, nullable=True),
    Column("modify_by_id", Integer, nullable=True),
    Column("date_create", DateTime, nullable=False),
    Column("date_modify", DateTime, nullable=False),
    Column("stage_id", String(64), nullable=True),  # STATUS_ID (lead, quote) / STAGE_ID
    Column("category_id", Integer, nullable=True),
    Column("closed", Boolean, nullable=False, default=False),
    Column("company_id", Integer, nullable=True),
    Column("contact_id", Integer, nullable=True),
    Column("opportunity", Float, nullable=True),
    Column("fields", JSON, nullable=False, default=dict),
    Index("ix_sim_crm_item_type_assigned", "entity_type_id", "assigned_by_id"),
    Index("ix_sim_crm_item_type_company", "entity_type_id", "company_id"),
    Index("ix_sim_crm_item_type_contact", "entity_type_id", "contact_id"),
    sqlite_autoincrement=True,
)

activities = Table(
    "sim_activity",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_type_id", Integer, nullable=False),
    Column("owner_id", Integer, nullable=False),
    Column("type_id", Integer, nullable=False),  # 1 meeting, 2 call, 3 task, 4 email, 6 provider
    Column("provider_id", String(64), nullable=True),
    Column("direction", Integer, nullable=False, default=0),  # 1 incoming, 2 outgoing
    Column("completed", Boolean, nullable=False, default=False),
    Column("status", Integer, nullable=False, default=1),  # 1 pending, 2 completed, 3 auto
    Column("responsible_id", Integer, nullable=True, index=True),
    Column("author_id", Integer, nullable=True),
    Column("editor_id", Integer, nullable=True),
    Column("subject", String(255), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("start_time", DateTime, nullable=True),
    Column("end_time", DateTime, nullable=True),
    Column("deadline", DateTime, nullable=True),
    Column("created", DateTime, nullable=False),
    Column("last_updated", DateTime, nullable=False),
    Column("fields", JSON, nullable=False, default=dict),  # COMMUNICATIONS, SETTINGS, ...
    Index("ix_sim_activity_owner", "owner_type_id", "owner_id"),
    sqlite_autoincrement=True,
)

activity_bindings = Table(
    "sim_activity_binding",
    metadata,
    Column("activity_id", Integer, ForeignKey("sim_activity.id", ondelete="CASCADE"),
           primary_key=True),
    Column("owner_type_id", Integer, primary_key=True),
    Column("owner_id", Integer, primary_key=True),
    Index("ix_sim_activity_binding_owner", "owner_type_id", "owner_id"),
)

userfields = Table(
    "sim_userfield",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entity_id", String(64), nullable=False),  # CRM_LEAD, CRM_DEAL, ...
    Column("field_name", String(64), nullable=False),
    Column("user_type_id", String(32), nullable=False, default="string"),
    Column("multiple", Boolean, nullable=False, default=False),
    Column("mandatory", Boolean, nullable=False, default=False),
    Column("label", String(255), nullable=False, default=""),
    Column("settings", JSON, nullable=False, default=dict),  # LIST values for enumerations
    UniqueConstraint("entity_id", "field_name"),
    sqlite_autoincrement=True,
)
config_cache.watch(userfields)

permissions = Table(
    "sim_permission",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),  # who may read
    Column("owner_id", Integer, nullable=False),  # whose items
    Column("access", String(16), nullable=False, default="read"),
    Column("granted_at", DateTime, nullable=False),
    UniqueConstraint("user_id", "owner_id", "access"),
    sqlite_autoincrement=True,
)

stage_history = Table(
    "sim_crm_stage_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entity_type_id", Integer, nullable=False),  # 1 lead, 2 deal
    Column("owner_id", Integer, nullable=False),
    Column("type_id", Integer, nullable=False),  # 1 created, 2 moved, 3 moved to a final stage
    Column("stage_id", String(64), nullable=False),
    Column("category_id", Integer, nullable=True),
    Column("semantic_id", String(1), nullable=False, default="P"),  # P process, S success, F
    Column("created_time", DateTime, nullable=False),
    Index("ix_sim_crm_stage_history_owner", "entity_type_id", "owner_id"),
    sqlite_autoincrement=True,
)

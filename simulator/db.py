"""The simulator's tables (SQLAlchemy Core), prefixed ``sim_`` so they can share a database
with the extension without clashing.

Design notes:
- All CRM entity types (lead 1, deal 2, contact 3, company 4, quote 7, smart invoice 31) live in
  one table, ``sim_crm_item``, with the fields every type shares promoted to indexed columns and
  everything else (names, multifields, ``UF_CRM_*`` values) in ``fields`` (JSON). One id
  sequence serves all types: ids are unique per type, as on the portal, but not contiguous.
- Times are stored as naive UTC; the REST layer renders them in the portal's time zone.
- Ids are never reused, as on the portal: every table with an integer surrogate key is
  ``AUTOINCREMENT`` on SQLite (``sqlite_autoincrement=True``), so deleting the row with the
  highest id does not hand that id to the next insert (a deleted lead's id coming back as a new
  deal's). PostgreSQL sequences never go back anyway. Tables created before this rule keep the
  old behaviour until the portal is reset (:func:`reused_id_tables`, ``Simulator.reset``).
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
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Connection

metadata = MetaData()

settings = Table(
    "sim_setting",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)

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

event_handlers = Table(
    "sim_event_handler",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event", String(64), nullable=False),
    Column("handler", String(1024), nullable=False),
    Column("auth_type", Integer, nullable=False, default=0),
    Column("event_type", String(16), nullable=False, default="online"),  # online / offline
    Column("application_token", String(64), nullable=False),
    UniqueConstraint("event", "handler", "auth_type", "event_type"),
    sqlite_autoincrement=True,
)

offline_events = Table(
    "sim_offline_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_name", String(64), nullable=False),
    Column("object_key", String(64), nullable=False),  # latest state per object
    Column("event_data", JSON, nullable=False),
    Column("event_additional", JSON, nullable=False, default=dict),
    Column("timestamp_x", DateTime, nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("process_id", String(64), nullable=True, index=True),
    UniqueConstraint("event_name", "object_key"),
    sqlite_autoincrement=True,
)

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

# Local applications (OAuth 2.0 clients) and the tokens they were issued; incoming webhooks use
# ``sim_user.webhook_token`` instead.
apps = Table(
    "sim_app",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("client_secret", String(64), nullable=False),
    Column("name", String(255), nullable=False, default=""),
    Column("redirect_uri", String(1024), nullable=False, default=""),
    Column("application_token", String(64), nullable=False),
)

oauth_codes = Table(
    "sim_oauth_code",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

oauth_tokens = Table(
    "sim_oauth_token",
    metadata,
    Column("access_token", String(64), primary_key=True),
    Column("refresh_token", String(64), nullable=False, unique=True),
    Column("client_id", String(64), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)


def reused_id_tables(conn: Connection) -> list[Table]:
    """The ``sim_`` tables of an SQLite database that were created without ``AUTOINCREMENT``
    although they should have it (databases older than that rule). Empty on PostgreSQL."""
    if conn.dialect.name != "sqlite":
        return []
    created = {row[0]: row[1] or "" for row in conn.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'sim_%'"))}
    return [table for table in metadata.sorted_tables
            if table.dialect_options["sqlite"]["autoincrement"] and table.name in created
            and "AUTOINCREMENT" not in created[table.name].upper()]

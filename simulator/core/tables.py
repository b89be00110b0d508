"""The portal's shared schema and the tables that belong to no one service.

Every service defines its own tables in its package's ``tables.py`` on :data:`metadata`, the
one ``MetaData`` of the simulator, so the schema is created, emptied and checked as a whole
(``simulator.db``) and a foreign key may name a table of another service by its name.

Conventions every ``tables.py`` follows:
- Table names are prefixed ``sim_`` so they can share a database with the extension without
  clashing.
- Times are stored as naive UTC; the REST layer renders them in the portal's time zone.
- Ids are never reused, as on the portal: every table with an integer surrogate key is
  ``AUTOINCREMENT`` on SQLite (``sqlite_autoincrement=True``), so deleting the row with the
  highest id does not hand that id to the next insert (a deleted lead's id coming back as a new
  deal's). PostgreSQL sequences never go back anyway. Tables created before this rule keep the
  old behaviour until the portal is reset (``simulator.db.reused_id_tables``,
  ``Simulator.reset``).

Kept here: the portal's settings, the local applications installed on it and their OAuth
grants (simulator.oauth), and the event bus's state, the handlers bound with ``event.bind``
and the offline queue (simulator.core.bus; the ``events`` service is their REST side).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, UniqueConstraint

metadata = MetaData()

settings = Table(
    "sim_setting",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
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

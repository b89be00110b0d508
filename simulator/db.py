"""The portal's database: the engine and the whole schema.

Each service defines its own tables in its package's ``tables.py`` (``simulator.crm.tables``,
``simulator.tasks.tables``...), the tables of no one service are in ``simulator.core.tables``,
and all of them sit on one ``MetaData`` (conventions there). Importing this module loads every
``tables.py``, so :data:`metadata` is the whole schema that ``Simulator`` creates, resets and
checks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, create_engine, event, text
from sqlalchemy.engine import Connection, Engine

from simulator.calendar import tables as _calendar  # noqa: F401  (every service's tables)
from simulator.core.tables import metadata
from simulator.crm import tables as _crm  # noqa: F401
from simulator.im import tables as _im  # noqa: F401
from simulator.tasks import tables as _tasks  # noqa: F401
from simulator.users import tables as _users  # noqa: F401

__all__ = ["make_engine", "metadata", "reused_id_tables"]


def make_engine(url: str) -> Engine:
    """An engine for the portal's database. SQLite: foreign keys on; a file database in WAL
    mode; an in-memory one kept on one connection so every thread sees the same portal."""
    if url.startswith("sqlite"):
        from sqlalchemy.pool import StaticPool

        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if url not in ("sqlite://", "sqlite:///:memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


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

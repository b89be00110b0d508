"""A per-process cache of the portal's configuration that changes rarely and is read on every
write: the handlers bound to events (``event.bind``) and the user fields of each CRM type.

Every process that opens the same database (web server threads, a second server, a scenario
runner) keeps its own copy and checks it once per transaction with one short query, the
*stamp*: a random token in the settings (``config_version``, renewed by the simulator's own
changes to handlers and user fields, and by a reset) plus the row count and highest id of each
watched table: ``sim_event_handler`` (the bus's, in simulator.core.tables) and those a service
names with :func:`watch` (``sim_userfield``, simulator.crm.tables). Ids are never reused, so any
insert or delete, even one made straight in the database, changes them. An entry is used only
under the stamp it was built with.

A transaction that changed handlers or user fields itself (:func:`changed`) reads them from
the database for the rest of its life and caches nothing, so a rolled-back change never leaves
a trace in the cache.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select

from simulator.core import tables

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.sql import Select

T = TypeVar("T")

VERSION_KEY = "config_version"
_INFO_KEY = "sim_config_stamp"
_DIRTY = object()

_S = tables.settings
_WATCHED: list[Table] = [tables.event_handlers]
_STAMP: list[Select[Any]] = []  # the stamp's query, built once the watched tables are known


def watch(table: Table) -> None:
    """Count ``table`` as configuration: its row count and highest ``id`` (never reused) join
    the stamp. A service calls this where it defines the table, so the core names no service's
    tables."""
    if table not in _WATCHED:
        _WATCHED.append(table)
        _STAMP.clear()


def _stamp_query() -> Select[Any]:
    if not _STAMP:
        parts = [select(_S.c.value).where(_S.c.key == VERSION_KEY).scalar_subquery()]
        for table in _WATCHED:
            parts += [select(func.count()).select_from(table).scalar_subquery(),
                      select(func.max(table.c.id)).scalar_subquery()]
        _STAMP[:] = [select(*parts)]
    return _STAMP[0]


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: Hashable | None = None
        self.entries: dict[Hashable, Any] = {}


_CACHES: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache_for(engine: Engine) -> _Cache:
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = _Cache()
        return cache


def _stamp_value(value: Any) -> Hashable:
    return value if isinstance(value, str | int | float | type(None)) else repr(value)


def stamp(conn: Connection) -> Hashable | None:
    """The configuration's stamp as ``conn``'s transaction sees it (read once per transaction);
    None when this transaction changed the configuration itself."""
    memo = conn.info.get(_INFO_KEY)
    transaction = conn.get_transaction()
    if memo is not None and transaction is not None and memo[0] is transaction:
        return None if memo[1] is _DIRTY else memo[1]
    row = conn.execute(_stamp_query()).one()
    value = tuple(_stamp_value(part) for part in row)
    transaction = conn.get_transaction()
    if transaction is not None:
        conn.info[_INFO_KEY] = (transaction, value)
    return value


def lookup(conn: Connection, key: Hashable, load: Callable[[], T]) -> T:
    """The cached value of ``key`` under the current stamp, or ``load()`` (kept for later)."""
    current = stamp(conn)
    if current is None:
        return load()
    cache = _cache_for(conn.engine)
    with cache.lock:
        if cache.stamp == current and key in cache.entries:
            return cache.entries[key]
    value = load()
    with cache.lock:
        if cache.stamp != current:
            cache.stamp = current
            cache.entries = {}
        cache.entries[key] = value
    return value


def changed(conn: Connection) -> None:
    """Record, in ``conn``'s transaction, that handlers or user fields changed (a new token:
    every process rebuilds its copy once this commits)."""
    token = secrets.token_hex(8)
    updated = conn.execute(_S.update().where(_S.c.key == VERSION_KEY).values(value=token)
                           ).rowcount
    if not updated:
        conn.execute(_S.insert().values(key=VERSION_KEY, value=token))
    transaction = conn.get_transaction()
    if transaction is not None:
        conn.info[_INFO_KEY] = (transaction, _DIRTY)
    forget(conn.engine)


def forget(engine: Engine) -> None:
    """Drop this process's copy (after a reset)."""
    cache = _cache_for(engine)
    with cache.lock:
        cache.stamp = None
        cache.entries = {}

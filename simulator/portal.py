"""The simulated portal: state, the REST dispatcher and the event bus behind one object.

``Simulator.call(method, params, user_id=...)`` is what the REST layer and the extension's
in-process transport both use: it returns the envelope without ``time`` (``result`` and, for
lists, ``total``/``next``) or raises :class:`SimError`.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from simulator import db
from simulator.clock import Clock
from simulator.core import config_cache
from simulator.core import tables as core_tables
from simulator.core.bus import EventBus, SimEvent, bound_handlers
from simulator.core.context import Ctx
from simulator.core.errors import (
    AccessDenied,
    BatchMethodNotAllowed,
    MethodNotFound,
    SimError,
    Veto,
)
from simulator.core.params import Params
from simulator.core.registry import METHODS, Page
from simulator.core.timefmt import DEFAULT_TIMEZONE, to_portal_iso, zone
from simulator.users import tables as users_tables

log = logging.getLogger(__name__)

_SETTINGS = core_tables.settings

# Methods whose errors follow the old CRM convention (empty code, text only).
_OLD_CRM_PREFIXES = ("crm.lead.", "crm.deal.", "crm.contact.", "crm.company.", "crm.quote.",
                     "crm.activity.")


class Settings:
    """Small JSON settings persisted in ``sim_setting`` (clock, rate limit, time zone...)."""

    def __init__(self, engine: Engine, on_change: Any = None) -> None:
        self._engine = engine
        self._on_change = on_change

    def get(self, key: str, default: Any = None) -> Any:
        with self._engine.connect() as conn:
            row = conn.execute(select(_SETTINGS.c.value).where(_SETTINGS.c.key == key)).first()
        return default if row is None else row.value

    def set(self, key: str, value: Any) -> None:
        with self._engine.begin() as conn:
            updated = conn.execute(
                _SETTINGS.update().where(_SETTINGS.c.key == key).values(value=value)
            ).rowcount
            if not updated:
                conn.execute(_SETTINGS.insert().values(key=key, value=value))
        if self._on_change is not None:
            self._on_change(key)


class Simulator:
    def __init__(self, database_url: str = "sqlite:///:memory:", *,
                 webhook_token: str | None = None, webhook_timeout: float = 5.0,
                 portal_url: str = "http://127.0.0.1:5000") -> None:
        # Import the services so every method is registered.
        import simulator.services  # noqa: F401

        self.database_url = database_url
        self.engine = db.make_engine(database_url)
        db.metadata.create_all(self.engine)
        self._tz: tzinfo | None = None
        self._tz_read_at = 0.0
        self._tz_lock = threading.Lock()
        self.settings = Settings(self.engine, on_change=self._setting_changed)
        self.clock = Clock(self)
        self.bus = EventBus(self)
        self.webhook_timeout = webhook_timeout
        self.portal_url = portal_url.rstrip("/")
        # SQLite allows one writer; serialising calls in this process avoids "database is locked".
        self._lock = threading.RLock() if self.engine.dialect.name == "sqlite" else None
        self.webhook_token = (webhook_token or os.environ.get("PORTAL_SIM_WEBHOOK_TOKEN")
                              or self.settings.get("webhook_token") or secrets.token_hex(8))
        self.settings.set("webhook_token", self.webhook_token)
        self.apply_webhook_token()
        from simulator.bizproc import attach as attach_automation

        attach_automation(self)  # robots run when an item enters a stage (simulator.bizproc)

    # -- portal-wide facts ----------------------------------------------------------------------
    # How long a process trusts the zone it read: another process (the control plane of a
    # second server, a scenario runner) may change it, as for the clock (simulator.clock).
    TZ_CACHE_SECONDS = 3.0

    @property
    def tz(self) -> tzinfo:
        """The portal's time zone (setting ``timezone``), re-read at most every
        :attr:`TZ_CACHE_SECONDS`. Handlers use ``ctx.tz``, fixed when their call began, so no
        settings read happens inside a call's transaction (on in-memory SQLite that would be
        the same connection)."""
        with self._tz_lock:
            if self._tz is None or time.monotonic() - self._tz_read_at > self.TZ_CACHE_SECONDS:
                self._tz = zone(self.settings.get("timezone", DEFAULT_TIMEZONE))
                self._tz_read_at = time.monotonic()
            return self._tz

    def _setting_changed(self, key: str) -> None:
        if key == "timezone":
            with self._tz_lock:
                self._tz = None

    def to_portal_iso(self, value: datetime | None) -> str:
        return to_portal_iso(value, self.tz)

    @property
    def domain(self) -> str:
        return self.portal_url.split("://", 1)[-1]

    def webhook_url(self, user_id: int = 1) -> str:
        return f"{self.portal_url}/rest/{user_id}/{self.webhook_token}/"

    @property
    def application_token(self) -> str:
        token = self.settings.get("application_token")
        if not token:
            token = secrets.token_hex(16)
            self.settings.set("application_token", token)
        return str(token)

    def outgoing_auth(self, application_token: str) -> dict[str, str]:
        # What the portal sends with an outgoing webhook's event (no access token).
        return {
            "domain": self.domain,
            "client_endpoint": f"{self.portal_url}/rest/",
            "server_endpoint": f"{self.portal_url}/rest/",
            "member_id": self.member_id,
            "application_token": application_token,
        }

    @property
    def member_id(self) -> str:
        member = self.settings.get("member_id")
        if not member:
            member = secrets.token_hex(16)
            self.settings.set("member_id", member)
        return str(member)

    def apply_webhook_token(self) -> None:
        """Give user 1 (the portal administrator) the configured incoming-webhook token."""
        with self.engine.begin() as conn:
            conn.execute(users_tables.users.update().where(users_tables.users.c.id == 1)
                         .values(webhook_token=self.webhook_token))

    def register_app(self, client_id: str, client_secret: str, redirect_uri: str = "", *,
                     name: str = "") -> str:
        """Register a local OAuth application; returns its application token (idempotent).
        See simulator.oauth."""
        from simulator.oauth import register_app

        return register_app(self, client_id, client_secret, redirect_uri, name=name)

    def deliver_notice(self, ctx: Ctx, user_id: int, message: str, **kwargs: Any) -> int | None:
        """``Ctx.notify``: the im service delivers the notice (see simulator.im.notices)."""
        from simulator.im import add_notification

        return add_notification(ctx, user_id, message, **kwargs)

    def check_webhook(self, user_id: int, token: str) -> bool:
        with self.engine.connect() as conn:
            users = users_tables.users
            row = conn.execute(select(users.c.webhook_token, users.c.active)
                               .where(users.c.id == user_id)).first()
        return bool(row and row.active and row.webhook_token
                    and secrets.compare_digest(row.webhook_token, token))

    # -- the dispatcher -------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any] | Params | None = None, *,
             user_id: int = 1) -> dict[str, Any]:
        name = method.strip().lower()
        if name.endswith(".json"):
            name = name[:-5]
        spec = METHODS.get(name)
        if spec is None:
            raise MethodNotFound()
        args = params if isinstance(params, Params) else Params(params or {})
        online: Any = None
        if spec.transactional:
            # Portal time and zone are read before the transaction opens (never inside it).
            now, portal_zone = self.clock.now(), self.tz
            with self._locked(), self.engine.begin() as conn:
                ctx = Ctx(self, conn, user_id, name, now, zone=portal_zone)
                value = self._run(spec, ctx, args)
                if ctx.events:
                    online = bound_handlers(conn).online
            self.bus.publish(ctx.events, online)
        else:
            # ``batch`` runs its commands through ``commands()``.
            ctx = Ctx(self, None, user_id, name, self.clock.now(),  # type: ignore[arg-type]
                      zone=self.tz)
            value = self._run(spec, ctx, args)
        return _envelope(value)

    def _run(self, spec: Any, ctx: Ctx, args: Params) -> Any:
        try:
            self._check_admin(spec, ctx)
            return spec.handler(ctx, args)
        except Veto as veto:
            code = "" if ctx.method.startswith(_OLD_CRM_PREFIXES) else "ERROR_CORE"
            # Inline on purpose: a subscriber's own words, under the code of the method's family.
            raise SimError(code, veto.message, 400) from veto

    @contextmanager
    def commands(self, user_id: int = 1) -> Iterator[CommandRunner]:
        """Run several calls in ONE write transaction (``batch``): each call in its own
        savepoint, so one that fails leaves nothing of itself while the others stand; the
        events of the calls that succeeded are published once everything has committed."""
        clock, portal_zone = self.clock.reader(), self.tz
        runner: CommandRunner | None = None
        with self._locked(), self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # The sqlite3 driver opens its transaction at the first write only; the first
                # SAVEPOINT would otherwise become the transaction, committed at its release.
                raw: Any = conn.connection.dbapi_connection
                if not raw.in_transaction:
                    conn.exec_driver_sql("BEGIN")
            runner = CommandRunner(self, conn, user_id, clock, portal_zone)
            yield runner
            online = bound_handlers(conn).online if runner.events else None
        self.bus.publish(runner.events, online)

    def _check_admin(self, spec: Any, ctx: Ctx) -> None:
        if spec.admin_only:
            row = ctx.conn.execute(select(users_tables.users.c.is_admin)
                                   .where(users_tables.users.c.id == ctx.user_id)).first()
            if not row or not row.is_admin:
                raise AccessDenied()

    def _locked(self) -> Any:
        return self._lock if self._lock is not None else _NullLock()

    def transaction(self) -> Any:
        """A locked write transaction for code outside the REST methods (seeds, scenarios)."""
        return _Transaction(self)

    # -- control plane --------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything but the settings that identify the portal."""
        keep = {"webhook_token", "control_token", "application_token", "member_id", "timezone"}
        with self._locked(), self.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                # installed applications are the portal's, not its data
                if table is core_tables.apps:
                    continue
                if table is core_tables.settings:
                    conn.execute(delete(table).where(core_tables.settings.c.key.not_in(keep)))
                else:
                    conn.execute(delete(table))
            if db.reused_id_tables(conn):
                # An SQLite file from before ids were AUTOINCREMENT: its data tables are empty
                # now, so rebuild them with the current definitions (settings and installed
                # applications stay).
                emptied = [t for t in db.metadata.sorted_tables
                           if t is not core_tables.settings and t is not core_tables.apps]
                db.metadata.drop_all(conn, tables=emptied)
                db.metadata.create_all(conn, tables=emptied)
            config_cache.changed(conn)
        self.clock.invalidate()

    def seed(self, fixture: str | None = "demo", **generator: Any) -> dict[str, Any]:
        """Load the demo portal (``fixture="demo"``) or generate a large one (parameters)."""
        from simulator.scenarios import seed as seed_portal

        summary = seed_portal(self, fixture=fixture, **generator)
        self.apply_webhook_token()
        return summary


def _envelope(value: Any) -> dict[str, Any]:
    if isinstance(value, Page):
        envelope: dict[str, Any] = {"result": value.result}
        if value.next is not None:
            envelope["next"] = value.next
        if value.total is not None:
            envelope["total"] = value.total
        return envelope
    return {"result": value}


class CommandRunner:
    """Calls inside :meth:`Simulator.commands`' transaction."""

    def __init__(self, sim: Simulator, conn: Connection, user_id: int,
                 clock: Callable[[], datetime], zone: tzinfo) -> None:
        self.sim = sim
        self.conn = conn
        self.user_id = user_id
        self.clock = clock
        self.zone = zone
        self.events: list[SimEvent] = []
        self.directory: dict[Any, Any] = {}
        dbapi: Any = conn.connection.dbapi_connection
        self._raw = dbapi.cursor()

    def call(self, method: str, params: dict[str, Any] | Params | None = None
             ) -> dict[str, Any]:
        """Like :meth:`Simulator.call`; raises SimError, and then nothing of this call stays."""
        name = method.strip().lower().removesuffix(".json")
        spec = METHODS.get(name)
        if spec is None:
            raise MethodNotFound()
        if not spec.transactional:
            raise BatchMethodNotAllowed()
        args = params if isinstance(params, Params) else Params(params or {})
        ctx = Ctx(self.sim, self.conn, self.user_id, name, self.clock(), zone=self.zone,
                  directory=self.directory)
        # A savepoint per call, in plain SQL on the driver's connection (SQLAlchemy's nested
        # transactions, even its exec_driver_sql, cost several times as much for what is the
        # hot path of bulk writes).
        raw = self._raw
        raw.execute("SAVEPOINT sim_command")
        try:
            value = self.sim._run(spec, ctx, args)
        except BaseException:
            raw.execute("ROLLBACK TO SAVEPOINT sim_command")
            raw.execute("RELEASE SAVEPOINT sim_command")
            self.directory.clear()
            raise
        raw.execute("RELEASE SAVEPOINT sim_command")
        self.events.extend(ctx.events)
        return _envelope(value)


class _NullLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _Transaction:
    """``with sim.transaction() as ctx:`` -> a Ctx acting as the administrator; its events are
    published after commit, as for REST calls."""

    def __init__(self, sim: Simulator, user_id: int = 1) -> None:
        self.sim = sim
        self.user_id = user_id

    def __enter__(self) -> Ctx:
        now, portal_zone = self.sim.clock.now(), self.sim.tz
        self._lock = self.sim._locked()
        self._lock.__enter__()
        self._begin = self.sim.engine.begin()
        conn = self._begin.__enter__()
        self.ctx = Ctx(self.sim, conn, self.user_id, "internal", now, zone=portal_zone)
        return self.ctx

    def __exit__(self, *exc: Any) -> None:
        try:
            self._begin.__exit__(*exc)
        finally:
            self._lock.__exit__(*exc)
        if exc[0] is None:
            self.sim.bus.publish(self.ctx.events)

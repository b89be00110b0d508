"""Helpers for the simulator's HTTP tests: people on the portal, a few probe methods that make
the transport observable without depending on any domain's handlers, a fake monotonic clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from simulator import SimError, Simulator
from simulator.core import tables as core_tables
from simulator.core.context import Ctx
from simulator.core.params import Params
from simulator.core.registry import METHODS, MethodSpec, Page
from simulator.users import tables as users_tables

WEBHOOK = "/rest/1/testtoken/"


def add_user(sim: Simulator, user_id: int, email: str, *, password: str = "secret",
             active: bool = True, is_admin: bool = False, name: str = "Test") -> None:
    with sim.engine.begin() as conn:
        conn.execute(users_tables.users.insert().values(
            id=user_id, active=active, is_admin=is_admin, name=name, last_name=f"User{user_id}",
            email=email, departments=[1], password_hash=generate_password_hash(password),
            date_register=sim.clock.now(), fields={}))
    sim.apply_webhook_token()


def add_admin(sim: Simulator) -> None:
    """User 1: the portal administrator who owns the incoming webhook. Also pins the portal's
    time zone to the default, which a reset keeps (a shared PostgreSQL database remembers it)."""
    sim.settings.set("timezone", "Europe/Moscow")
    add_user(sim, 1, "admin@test.portal", password="admin", is_admin=True, name="Admin")


def probe_value(sim: Simulator, key: str) -> Any:
    with sim.engine.connect() as conn:
        settings = core_tables.settings
        row = conn.execute(select(settings.c.value).where(settings.c.key == key)).first()
    return None if row is None else row.value


# -- probe methods ------------------------------------------------------------------------------
def _echo(ctx: Ctx, params: Params) -> Any:
    return {"params": params.raw, "user_id": ctx.user_id}


def _fail(ctx: Ctx, params: Params) -> Any:
    raise SimError(str(params.get("code", "ACCESS_DENIED")), "Access denied!",
                   int(params.get("status", 403)))


def _crash(ctx: Ctx, params: Params) -> Any:
    raise RuntimeError("probe crashed")


def _page(ctx: Ctx, params: Params) -> Any:
    start = int(params.get("start") or 0)
    items = [{"ID": str(i)} for i in range(1, 121)][start:start + 50]
    following = start + 50 if start + 50 < 120 else None
    return Page(items, total=120, next=following)


def _remember(ctx: Ctx, params: Params) -> Any:
    """Writes a setting in the call's own transaction (to observe commits)."""
    key = f"probe:{params.get('key')}"
    ctx.conn.execute(core_tables.settings.delete().where(core_tables.settings.c.key == key))
    ctx.conn.execute(core_tables.settings.insert().values(key=key, value=params.get("value")))
    return True


PROBES = {"probe.echo": _echo, "probe.fail": _fail, "probe.crash": _crash,
          "probe.page": _page, "probe.remember": _remember}


@contextmanager
def probe_methods() -> Iterator[None]:
    for name, handler in PROBES.items():
        METHODS[name] = MethodSpec(name, handler)
    try:
        yield
    finally:
        for name in PROBES:
            METHODS.pop(name, None)


class FakeMonotonic:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SteppingMonotonic(FakeMonotonic):
    """Virtual time that moves ``step`` seconds each time it is read: to the bucket, requests
    arrive at a steady 1/step per second however fast the machine serves them."""

    def __init__(self, step: float, start: float = 1000.0) -> None:
        super().__init__(start)
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now

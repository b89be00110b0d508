"""Small helpers shared by the CRM, activity and list tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from simulator import SimError, Simulator
from simulator.im import tables as im_tables
from simulator.users import tables as users_tables

PEOPLE = [(1, "Anna", "Admin", True), (2, "Boris", "Sales", True), (3, "Vera", "Sales", True),
          (4, "Gleb", "Gone", False)]  # user 4 is dismissed


def add_people(sim: Simulator) -> None:
    with sim.transaction() as ctx:
        for user_id, name, last_name, active in PEOPLE:
            ctx.conn.execute(users_tables.users.insert().values(
                id=user_id, name=name, last_name=last_name, email=f"user{user_id}@example.com",
                active=active, is_admin=user_id == 1, date_register=ctx.now, departments=[1],
                fields={}))
    sim.apply_webhook_token()


def result(sim: Simulator, method: str, params: dict[str, Any] | None = None,
           user_id: int = 1) -> Any:
    return sim.call(method, params or {}, user_id=user_id)["result"]


def error_of(sim: Simulator, method: str, params: dict[str, Any], user_id: int = 1) -> SimError:
    with pytest.raises(SimError) as caught:
        sim.call(method, params, user_id=user_id)
    return caught.value


def count_rows(sim: Simulator, table: Any) -> int:
    with sim.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def notifications(sim: Simulator, user_id: int | None = None) -> list[Any]:
    stmt = select(im_tables.notifications).order_by(im_tables.notifications.c.id)
    if user_id is not None:
        stmt = stmt.where(im_tables.notifications.c.user_id == user_id)
    with sim.engine.connect() as conn:
        return list(conn.execute(stmt).all())


@contextmanager
def captured_events(sim: Simulator) -> Iterator[list[Any]]:
    seen: list[Any] = []
    sim.bus.subscribe_after(seen.append)
    try:
        yield seen
    finally:
        sim.bus.unsubscribe(seen.append)

"""A test-only event handler whose effect can be counted: every processed ``ONTESTEFFECT``
adds one ``test_effect`` row in the processing transaction. Exactly-once processing means
exactly one row per event, however often the event was delivered or retried.

The Celery worker test loads this module in the worker with
``PORTAL_EXT_EXTRA_MODULES=tests.ext.effects``. ``data[sleep]`` (seconds) makes the handler slow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from portal_ext.events import PortalEvent, handles
from portal_ext.extensions import db

EVENT = "ONTESTEFFECT"


class Base(DeclarativeBase):
    """Apart from the app's models: the migrations know nothing of this table."""


class Effect(Base):
    __tablename__ = "test_effect"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbox_id: Mapped[int] = mapped_column(Integer, index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


# Hooks a test may set: fail the next N runs; call something while the handler runs.
control: dict[str, Any] = {"fail_next": 0, "during": None}
calls: list[int] = []


@handles(EVENT)
def record_effect(event: PortalEvent, *, portal: Any, client: Any, now: datetime) -> None:
    calls.append(event.inbox_id or 0)
    time.sleep(float(event.data.get("sleep") or 0))
    during: Callable[[PortalEvent], None] | None = control["during"]
    if during is not None:
        during(event)
    db.session.add(Effect(inbox_id=event.inbox_id, label=str(event.data.get("label") or ""),
                          created_at=now))
    if control["fail_next"] > 0:
        control["fail_next"] -= 1
        raise RuntimeError("the handler failed on purpose")


def reset(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(delete(Effect))
    control.update(fail_next=0, during=None)
    calls.clear()


def effects_per_inbox(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(Effect.inbox_id, func.count()).group_by(Effect.inbox_id))
        return {int(inbox_id): int(n) for inbox_id, n in rows}

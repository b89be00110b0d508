"""The portal's clock: real time by default; frozen, set or advanced by tests and scenarios.

The state lives in the simulator's settings table, so every process that opens the same
database (web server, Celery worker, a scenario runner) sees the same portal time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.portal import Simulator


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Clock:
    """Portal time as naive UTC datetimes.

    Modes: ``real`` (wall clock plus an offset) and ``frozen`` (a fixed instant that moves only
    when told to). The state is cached for a short while so hot paths do not read the database
    on every call.
    """

    CACHE_SECONDS = 0.5

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._lock = threading.Lock()
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0

    def _state(self) -> dict[str, Any]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached_at > self.CACHE_SECONDS:
                self._cached = self._sim.settings.get("clock") or {"mode": "real", "offset": 0.0}
                self._cached_at = time.monotonic()
            return dict(self._cached)

    def _save(self, state: dict[str, Any]) -> None:
        self._sim.settings.set("clock", state)
        with self._lock:
            self._cached = state
            self._cached_at = time.monotonic()

    def now(self) -> datetime:
        state = self._state()
        if state["mode"] == "frozen":
            return datetime.fromisoformat(state["at"])
        return utcnow() + timedelta(seconds=float(state.get("offset", 0.0)))

    def reader(self) -> Callable[[], datetime]:
        """Portal time without touching the database: the state is read once, here (for code
        that runs inside a transaction, such as a ``batch`` request's commands)."""
        state = self._state()
        if state["mode"] == "frozen":
            at = datetime.fromisoformat(state["at"])
            return lambda: at
        offset = timedelta(seconds=float(state.get("offset", 0.0)))
        return lambda: utcnow() + offset

    def describe(self) -> dict[str, Any]:
        state = self._state()
        return {"now": self._sim.to_portal_iso(self.now()), "frozen": state["mode"] == "frozen"}

    def set(self, when: datetime, *, frozen: bool = True) -> None:
        """Move portal time to ``when`` (naive UTC). Frozen unless told otherwise."""
        if frozen:
            self._save({"mode": "frozen", "at": when.isoformat()})
        else:
            self._save({"mode": "real", "offset": (when - utcnow()).total_seconds()})

    def advance(self, seconds: float) -> None:
        state = self._state()
        if state["mode"] == "frozen":
            at = datetime.fromisoformat(state["at"]) + timedelta(seconds=seconds)
            self._save({"mode": "frozen", "at": at.isoformat()})
        else:
            self._save({"mode": "real", "offset": float(state.get("offset", 0.0)) + seconds})

    def unfreeze(self) -> None:
        self._save({"mode": "real", "offset": 0.0})

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

"""The cloud portal's request limits and the ``time`` block of every REST answer
(docs: limits.md).

- **Leaky bucket**: each HTTP request adds 1 to a counter that drains by ``y`` per second; a
  request that would take the counter past ``x`` gets HTTP 503 ``QUERY_LIMIT_EXCEEDED`` ("Too
  many requests") and is not counted. Defaults are the non-Enterprise plans' X=50, Y=2. One
  bucket per portal (the cloud keys it by portal and source IP; every client here shares one
  address). A ``batch`` counts once, whatever it carries. Off by default.
- **Operating time**: the execution time of each method is summed over the last 10 minutes;
  ``time.operating`` reports that sum for the method just called. With ``operating_limit``
  (seconds) set, a method over it answers HTTP 429 ``OPERATION_TIME_LIMIT`` while other methods
  keep working. The outer ``batch`` is not counted; each command counts against its own method.

Settings live in the portal's settings under ``rate_limit`` (so every process sees them); the
bucket's level and the operating records live in this process. Only HTTP requests are limited
and counted (:data:`OVER_HTTP`); in-process calls, batches included, are not.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from simulator.core.errors import OperationTimeLimit, QueryLimitExceeded
from simulator.core.timefmt import to_portal_iso

if TYPE_CHECKING:
    from simulator.portal import Simulator

# True while the REST endpoint serves a request: ``batch`` then limits and counts each of its
# commands as the endpoint does a plain call (in-process batches are neither).
OVER_HTTP: ContextVar[bool] = ContextVar("simulator_over_http", default=False)

DEFAULTS: dict[str, Any] = {"enabled": False, "x": 50, "y": 2.0, "operating_limit": None}
OPERATING_WINDOW = 600.0  # ten one-minute baskets
_SETTINGS_CACHE_SECONDS = 1.0


class LeakyBucket:
    def __init__(self, capacity: float, drain_per_second: float,
                 clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.drain_per_second = drain_per_second
        self._clock = clock
        self._level = 0.0
        self._last = clock()
        self._lock = threading.Lock()

    def _drain(self) -> None:
        now = self._clock()
        self._level = max(0.0, self._level - (now - self._last) * self.drain_per_second)
        self._last = now

    def admit(self) -> bool:
        """Count one request; False (and not counted) when the bucket is full."""
        with self._lock:
            self._drain()
            if self._level + 1 > self.capacity:
                return False
            self._level += 1
            return True

    @property
    def level(self) -> float:
        with self._lock:
            self._drain()
            return self._level


class OperatingMeter:
    """Per-method execution time over a sliding ten-minute window."""

    def __init__(self, clock: Callable[[], float], window: float = OPERATING_WINDOW) -> None:
        self._clock = clock
        self.window = window
        self._records: deque[tuple[float, str, float]] = deque()
        # Running sums per method: asked after every command of a batch, a total must not
        # cost a pass over the window's records.
        self._totals: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _prune(self) -> None:
        cutoff = self._clock() - self.window
        while self._records and self._records[0][0] < cutoff:
            _at, method, seconds = self._records.popleft()
            self._counts[method] -= 1
            if self._counts[method]:
                self._totals[method] = max(0.0, self._totals[method] - seconds)
            else:  # the method's last record left the window: exactly nothing (no float dust)
                del self._counts[method], self._totals[method]

    def record(self, method: str, seconds: float) -> None:
        with self._lock:
            self._records.append((self._clock(), method, seconds))
            self._totals[method] = self._totals.get(method, 0.0) + seconds
            self._counts[method] = self._counts.get(method, 0) + 1
            self._prune()

    def total(self, method: str) -> float:
        with self._lock:
            self._prune()
            return self._totals.get(method, 0.0)


class PortalLimits:
    """The limits of one portal. ``monotonic`` may be replaced (tests use a fake clock)."""

    def __init__(self, sim: Simulator, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._sim = sim
        self.monotonic = monotonic
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._lock = threading.Lock()
        self.bucket = LeakyBucket(DEFAULTS["x"], DEFAULTS["y"], lambda: self.monotonic())
        self.operating = OperatingMeter(lambda: self.monotonic())

    # -- settings -------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached_at > _SETTINGS_CACHE_SECONDS:
                stored = self._sim.settings.get("rate_limit") or {}
                self._cached = {**DEFAULTS, **stored}
                self._cached_at = time.monotonic()
            config = dict(self._cached)
        self.bucket.capacity = float(config["x"])
        self.bucket.drain_per_second = float(config["y"])
        return config

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Store new settings (already validated by the caller) and apply them at once."""
        config = {**self.config(), **changes}
        self._sim.settings.set("rate_limit", config)
        with self._lock:
            self._cached = None
        return self.config()

    def reset(self) -> None:
        """Empty the bucket and forget operating time (after a portal reset)."""
        with self._lock:
            self._cached = None
        self.bucket = LeakyBucket(DEFAULTS["x"], DEFAULTS["y"], lambda: self.monotonic())
        self.operating = OperatingMeter(lambda: self.monotonic())

    # -- checks ---------------------------------------------------------------------------------
    def admit(self, method: str) -> None:
        """Raise the portal's error when this request is over a limit; otherwise count it."""
        config = self.config()
        if not config["enabled"]:
            return
        if method != "batch":
            self._check_operating(config, method)
        if not self.bucket.admit():
            raise QueryLimitExceeded()

    def check_operating(self, method: str, config: dict[str, Any] | None = None) -> None:
        """429 ``OPERATION_TIME_LIMIT`` when ``method`` used up its operating time (a ``batch``
        command is checked against its own method, limits.md). ``config``: the settings
        already read (a ``batch`` reads them once, before its transaction)."""
        config = self.config() if config is None else config
        if config["enabled"]:
            self._check_operating(config, method)

    def _check_operating(self, config: dict[str, Any], method: str) -> None:
        limit = config.get("operating_limit")
        if limit and self.operating.total(method) >= float(limit):
            raise OperationTimeLimit()


_PORTALS: weakref.WeakKeyDictionary[Simulator, PortalLimits] = weakref.WeakKeyDictionary()
_PORTALS_LOCK = threading.Lock()


def limits_for(sim: Simulator) -> PortalLimits:
    with _PORTALS_LOCK:
        limits = _PORTALS.get(sim)
        if limits is None:
            limits = PortalLimits(sim)
            _PORTALS[sim] = limits
        return limits


def time_figures(sim: Simulator, started_at: datetime, *, duration: float, processing: float,
                 operating: float, tz: tzinfo | None = None) -> dict[str, Any]:
    """The ``time`` block: ``started_at`` is portal time (naive UTC) when the request began;
    the durations are measured in real seconds. ``tz``: the portal's zone, when the caller
    has it already."""
    zone = tz if tz is not None else sim.tz
    start = started_at.replace(tzinfo=None)
    start_ts = (start - datetime(1970, 1, 1)).total_seconds()
    finished_at = start + timedelta(seconds=duration)
    return {
        "start": round(start_ts, 6),
        "finish": round(start_ts + duration, 6),
        "duration": duration,
        "processing": processing,
        "date_start": to_portal_iso(start, zone),
        "date_finish": to_portal_iso(finished_at, zone),
        "operating_reset_at": int(start_ts + OPERATING_WINDOW),
        "operating": round(operating, 6),
    }

"""The portal's time and time zone, as the extension must follow them.

Time-based work (an absence starting, ending) compares stored times with the *portal's* now,
not the host's: a simulated portal's clock can be frozen or moved (``POST /_sim/clock``), and a
real portal's clock is the one its users see. The portal tells its time with ``server.time``
("returns the current server time in the format YYYY-MM-DDThh:mm:ss±hh:mm", [D]
rest_help/general/server_time.php); every HTTP answer also carries it in ``time.date_start``.

Order of sources: ``server.time``; if the portal does not know it, the envelope's
``time.date_start`` of a cheap call (``profile``); if the portal cannot be reached, the host's
clock (logged). Over HTTP the answer is kept for ``PORTAL_CLOCK_CACHE_SECONDS`` and advanced by
the time elapsed since; in-process it is read every time (it costs one settings read).

The zone comes from the setting ``PORTAL_TIMEZONE`` (default Europe/Moscow, the portal's own
default): ``server.time`` gives an offset, not a zone with its daylight-saving rules.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context

from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.transports import InProcessTransport

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Europe/Moscow"
DEFAULT_CACHE_SECONDS = 2.0
_NOT_FOUND = ("ERROR_METHOD_NOT_FOUND", "METHOD_NOT_FOUND")

_lock = threading.Lock()
_cache: dict[int, tuple[datetime, float]] = {}  # id(client) -> (portal time, monotonic)


def host_utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def portal_zone() -> tzinfo:
    """The portal's time zone (setting ``PORTAL_TIMEZONE``)."""
    name = DEFAULT_TIMEZONE
    if has_app_context():
        name = str(current_app.config.get("PORTAL_TIMEZONE") or DEFAULT_TIMEZONE)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown PORTAL_TIMEZONE %r; using %s", name, DEFAULT_TIMEZONE)
        return ZoneInfo(DEFAULT_TIMEZONE)


def parse_portal_time(value: Any) -> datetime | None:
    """An ISO 8601 time with offset as naive UTC; None if it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=portal_zone())
    return parsed.astimezone(UTC).replace(tzinfo=None)


def portal_now(client: PortalClient) -> datetime:
    """The portal's current time as naive UTC."""
    in_process = isinstance(client.transport, InProcessTransport)
    ttl = 0.0 if in_process else _cache_seconds()
    key = id(client)
    if ttl > 0:
        with _lock:
            cached = _cache.get(key)
        if cached is not None and time.monotonic() - cached[1] < ttl:
            return cached[0] + timedelta(seconds=time.monotonic() - cached[1])
    now = _ask(client)
    if ttl > 0:
        with _lock:
            _cache[key] = (now, time.monotonic())
    return now


def forget_portal_time() -> None:
    """Drop cached portal times (after moving a simulated portal's clock over HTTP)."""
    with _lock:
        _cache.clear()


def _ask(client: PortalClient) -> datetime:
    try:
        envelope = client.call_raw("server.time")
        found = parse_portal_time(envelope.get("result")) or _envelope_time(envelope)
        if found is not None:
            return found
    except PortalError as exc:
        if exc.code not in _NOT_FOUND and exc.status != 404:
            log.warning("server.time failed (%s); using the host's clock", exc)
            return host_utcnow()
    try:
        found = _envelope_time(client.call_raw("profile"))
    except PortalError as exc:
        log.warning("no portal time from profile (%s); using the host's clock", exc)
        found = None
    return found or host_utcnow()


def _envelope_time(envelope: Any) -> datetime | None:
    block = envelope.get("time") if isinstance(envelope, dict) else None
    return parse_portal_time(block.get("date_start")) if isinstance(block, dict) else None


def _cache_seconds() -> float:
    if not has_app_context():
        return DEFAULT_CACHE_SECONDS
    return float(current_app.config.get("PORTAL_CLOCK_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))

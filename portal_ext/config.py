"""Settings. Every name below can be overridden by the environment variable
``PORTAL_EXT_<NAME>`` and then by the ``config`` dict given to ``create_app``.

Values from the environment are converted to the type of the default (int, float, bool);
``PORTAL_DISPATCH`` is a callable and only ever comes from the composition root (wsgi.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

ENV_PREFIX = "PORTAL_EXT_"
_NOT_FROM_ENV = frozenset({"PORTAL_DISPATCH", "PORTAL_HTTP_SESSION"})


class BaseConfig:
    # None means "SQLite file ext.db in the app's instance folder".
    DATABASE_URL: str | None = None
    # Signs sessions and CSRF tokens. Set PORTAL_EXT_SECRET_KEY in production (the same value
    # on every web process); when unset, a random key is made once and kept in
    # instance/secret_key, so the local demo needs no configuration and ships no secret.
    SECRET_KEY: str = ""

    PORTAL_MODE: str = "simulated"  # simulated (in-process dispatch) | rest (HTTP webhook)
    PORTAL_NAME: str = "Portal"
    PORTAL_URL: str = "http://127.0.0.1:5000"
    PORTAL_WEBHOOK_URL: str = ""
    PORTAL_APPLICATION_TOKEN: str = ""
    PORTAL_MEMBER_ID: str = ""
    PORTAL_DISPATCH: Any = None
    PORTAL_TIMEOUT_SECONDS: float = 30.0
    # The portal's leaky bucket as the HTTP client keeps it (limits.md): X requests at once,
    # then Y per second. Non-Enterprise cloud plans: 50 and 2; Enterprise: 250 and 5.
    PORTAL_RATE_POOL: int = 50
    PORTAL_RATE_PER_SECOND: float = 2.0
    OAUTH_CLIENT_ID: str = ""
    OAUTH_CLIENT_SECRET: str = ""
    # The extension installed as a portal application (portal_ext.portal.application): the
    # OAuth server that refreshes its tokens (empty: the portal itself, as on-premise and in
    # the simulator; the cloud's is https://oauth.bitrix.info), and the key its tokens are
    # stored encrypted with: Fernet keys, comma-separated, the first encrypts, every one
    # decrypts (rotation). Empty: a key derived from SECRET_KEY.
    OAUTH_SERVER_URL: str = ""
    APP_TOKEN_KEY: str = ""

    # Background work: inline (in the caller) | thread (embedded worker) | celery.
    TASK_RUNNER: str = "thread"
    CELERY_BROKER_URL: str = "redis://127.0.0.1:6379/0"
    # Seconds before Redis hands an unacknowledged task to another worker (kombu's default).
    CELERY_VISIBILITY_TIMEOUT: int = 3600
    # Seconds between the periodic ticks (reconcile, directory sync, offline poll) of the
    # embedded scheduler; celery beat ticks every minute.
    TICK_SECONDS: float = 30.0
    DIRECTORY_SYNC_SECONDS: float = 300.0

    # Events: an attempt failing is retried after EVENT_RETRY_BASE_SECONDS * 2**(attempts-1)
    # (at most 10 minutes) until EVENT_MAX_ATTEMPTS; a row pending or processing for longer than
    # EVENT_STUCK_SECONDS is re-queued by reconcile().
    EVENT_MAX_ATTEMPTS: int = 5
    EVENT_RETRY_BASE_SECONDS: float = 10.0
    EVENT_STUCK_SECONDS: float = 300.0
    OFFLINE_POLL: bool = False  # poll event.offline.get (needs offline handlers bound)

    # The portal's time zone (server.time tells only an offset, not the zone's rules), how
    # long a portal time read over HTTP is reused (portal_ext.portal.clock), and how often
    # the absence chart is polled (portal_ext.absences.chart_import).
    PORTAL_TIMEZONE: str = "Europe/Moscow"
    PORTAL_CLOCK_CACHE_SECONDS: float = 2.0
    ABSENCE_CHART_POLL_SECONDS: float = 300.0

    # The portal's language (en | ru): what the extension writes into the portal (copies,
    # summaries) is in its reader's language, the one they last chose on the extension's
    # pages, else this one (the portal does not tell an app its users' languages).
    PORTAL_LANGUAGE: str = "ru"

    # Notification copies (portal_ext.notifications): a delivery refused for a
    # passing reason is retried after NOTIFY_RETRY_BASE_SECONDS * 2**(attempts-1) (at most 10
    # minutes) until NOTIFY_MAX_ATTEMPTS; a drain that has not recorded its batch within
    # NOTIFY_LEASE_SECONDS is presumed dead and its batch is sent again (same tags: no doubles).
    NOTIFY_MAX_ATTEMPTS: int = 5
    NOTIFY_RETRY_BASE_SECONDS: float = 10.0
    NOTIFY_LEASE_SECONDS: float = 120.0

    # Dismissal transfers (portal_ext.transfers): an applied transfer can be undone for this many
    # days.
    TRANSFER_UNDO_DAYS: int = 14

    # The deadline guard (portal_ext.deadlines): a pending request nobody answers within
    # DEADLINE_ESCALATION_HOURS is passed to the next head; on a cloud portal (PORTAL_MODE
    # rest) the tasks are resynced against the snapshot every DEADLINE_RESYNC_MINUTES. A sweep
    # waits for a burst of task events to settle (no new one for DEADLINE_SWEEP_SETTLE_SECONDS,
    # or a full batch of 50 pending) before reading, never longer than
    # DEADLINE_SWEEP_MAX_WAIT_SECONDS after the oldest pending event; 0 reads at once.
    DEADLINE_ESCALATION_HOURS: float = 24.0
    DEADLINE_RESYNC_MINUTES: float = 60.0
    DEADLINE_SWEEP_SETTLE_SECONDS: float = 0.5
    DEADLINE_SWEEP_MAX_WAIT_SECONDS: float = 5.0

    # Handovers (portal_ext.handover): items per chunk (one re-check ``batch`` of 50 list calls
    # reads 2,500 items, so re-reading costs one request per 50 writes), how long a worker may
    # hold a batch before another takes over (more than a chunk takes at 2 requests/s), and
    # how long one job runs before it queues its continuation (short Celery tasks).
    HANDOVER_CHUNK_SIZE: int = 2500
    HANDOVER_LEASE_SECONDS: float = 120.0
    HANDOVER_JOB_SECONDS: float = 20.0

    # Lead distribution: a visit report queued or running this long without finishing (a
    # worker killed, a message lost) is queued again by the periodic tick.
    DISTRIBUTION_STALE_SECONDS: float = 300.0

    # Request size limits in bytes (a larger request is answered 413 and nothing is stored):
    # the portal's event webhook, one field of it (an event carries ids, not documents), the
    # JSON API, and the pages' forms.
    WEBHOOK_MAX_BYTES: int = 65536
    WEBHOOK_MAX_FIELD_BYTES: int = 4096
    API_MAX_BYTES: int = 1048576
    FORM_MAX_BYTES: int = 1048576

    # Comma-separated modules imported at start-up, e.g. to register extra event handlers in a
    # worker process (tests use it for a handler that counts its effects).
    EXTRA_MODULES: str = ""

    WTF_CSRF_TIME_LIMIT: int | None = None
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    # Send the session cookie over HTTPS only. Off for the local http:// demo; set
    # PORTAL_EXT_SESSION_COOKIE_SECURE=true behind TLS in production.
    SESSION_COOKIE_SECURE: bool = False


class TestConfig(BaseConfig):
    TESTING = True
    TASK_RUNNER = "inline"
    SECRET_KEY = "test-secret"
    WTF_CSRF_ENABLED = False
    EVENT_RETRY_BASE_SECONDS = 0.0


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def settings_from(base: type[BaseConfig], environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The base class's settings, then the environment's, then ``overrides``."""
    environ = os.environ if environ is None else environ
    values = {name: getattr(base, name) for name in dir(base) if name.isupper()}
    for name, default in list(values.items()):
        raw = environ.get(ENV_PREFIX + name)
        if raw is not None and name not in _NOT_FROM_ENV:
            try:
                values[name] = _coerce(raw, default)
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{name}: {exc}") from exc
    values.update(overrides or {})
    return values

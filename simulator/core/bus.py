"""The portal's event bus.

- *before* events run synchronously inside the change, before anything is written; an
  in-process subscriber may raise :class:`~simulator.core.errors.Veto` to refuse the change.
- *after* events are collected during the change and published once it has committed:
  in-process subscribers get the full :class:`SimEvent` (state before and after);
  handlers bound with ``event.bind`` get the portal's form-encoded webhook (ID only), sent once
  from a background thread and never retried, as the portal's queue server does; handlers bound
  as ``offline`` get a row in the offline queue, written in the same transaction as the change,
  one row per object holding its latest state.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
from sqlalchemy import bindparam, select

from simulator.core import config_cache, tables

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from simulator.portal import Simulator

log = logging.getLogger(__name__)


@dataclass
class SimEvent:
    """One portal event. ``data`` is exactly what a webhook's ``data`` carries."""

    name: str  # upper case, e.g. ONCRMDEALUPDATE
    data: dict[str, Any]
    ts: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    actor_id: int | None = None
    entity_type: str | None = None  # LEAD, DEAL, CONTACT, COMPANY, QUOTE, SMART_INVOICE, ...
    entity_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    # ``before`` and ``after`` worked out when first needed (:class:`Shapes`): rendering an
    # item twice costs more than changing it, and only in-process subscribers read them.
    shapes: Shapes | None = field(default=None, repr=False, compare=False)

    def resolve(self) -> SimEvent:
        """Fill ``before`` and ``after`` if they are still to be worked out."""
        if self.shapes is not None:
            self.before, self.after = self.shapes()
            self.shapes = None
        return self

    def as_dict(self) -> dict[str, Any]:
        """The event as a plain dict for subscribers. The nested values are the event's own,
        not copies (a deep copy of every item's shapes cost more than the change itself):
        subscribers read them and must not change them."""
        self.resolve()
        return {"name": self.name, "data": self.data, "ts": self.ts, "id": self.id,
                "actor_id": self.actor_id, "entity_type": self.entity_type,
                "entity_id": self.entity_id, "before": self.before, "after": self.after}


ShapePair = tuple[dict[str, Any] | None, dict[str, Any] | None]


class Shapes:
    """An object's state before and after a change, rendered once, on first call. What it
    renders from must not change afterwards (handlers pass the rows they are done with)."""

    __slots__ = ("_render", "_value")

    def __init__(self, render: Callable[[], ShapePair]) -> None:
        self._render: Callable[[], ShapePair] | None = render
        self._value: ShapePair = (None, None)

    def __call__(self) -> ShapePair:
        if self._render is not None:
            self._value = self._render()
            self._render = None
        return self._value


def flatten_form(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """PHP-style form fields: ``{"data": {"FIELDS": {"ID": 7}}}`` -> ``data[FIELDS][ID]=7``."""
    pairs: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}[{key}]" if prefix else str(key)
            pairs.extend(flatten_form(value, name))
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            pairs.extend(flatten_form(value, f"{prefix}[{index}]"))
    elif data is None:
        pairs.append((prefix, ""))
    elif isinstance(data, bool):
        pairs.append((prefix, "Y" if data else "N"))
    else:
        pairs.append((prefix, str(data)))
    return pairs


Subscriber = Callable[[SimEvent], None]


@dataclass(frozen=True)
class BoundHandlers:
    """The handlers bound with ``event.bind``: online ones by event, and the events that have
    an offline handler."""

    online: Mapping[str, list[dict[str, Any]]]
    offline: frozenset[str]


def bound_handlers(conn: Connection) -> BoundHandlers:
    """Every bound handler, from the configuration cache (simulator.core.config_cache)."""

    def load() -> BoundHandlers:
        online: dict[str, list[dict[str, Any]]] = {}
        offline: set[str] = set()
        rows = conn.execute(select(tables.event_handlers).order_by(tables.event_handlers.c.id))
        for row in rows.mappings():
            if row["event_type"] == "offline":
                offline.add(row["event"])
            elif row["event_type"] == "online":
                online.setdefault(row["event"], []).append(dict(row))
        return BoundHandlers(online, frozenset(offline))

    return config_cache.lookup(conn, "event_handlers", load)


_OFFLINE = tables.offline_events
_QUEUED = select(_OFFLINE.c.id).where(_OFFLINE.c.event_name == bindparam("b_name"),
                                      _OFFLINE.c.object_key == bindparam("b_key"))
_REQUEUE = _OFFLINE.update().where(_OFFLINE.c.id == bindparam("b_id"))
_QUEUE = _OFFLINE.insert()


class EventBus:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._before: list[Subscriber] = []
        self._after: list[Subscriber] = []
        # Called after commit with the event as it is (before/after not worked out): the
        # portal's own reactions (automation rules) read them only when they need to.
        self._watchers: list[Subscriber] = []
        self._outbox: queue.Queue[tuple[str, list[tuple[str, str]]]] = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self.deliveries: list[dict[str, Any]] = []  # recent outbound attempts, for the UI

    # -- in-process subscriptions -------------------------------------------------------------
    def subscribe_before(self, fn: Subscriber) -> None:
        self._before.append(fn)

    def subscribe_after(self, fn: Subscriber) -> None:
        self._after.append(fn)

    def unsubscribe(self, fn: Subscriber) -> None:
        for subscribers in (self._before, self._after):
            while fn in subscribers:
                subscribers.remove(fn)

    def watch(self, fn: Subscriber) -> None:
        """The portal's own reaction to every committed event (not an in-process subscriber:
        kept by :meth:`clear_subscribers`)."""
        self._watchers.append(fn)

    def clear_subscribers(self) -> None:
        self._before.clear()
        self._after.clear()

    @property
    def has_before(self) -> bool:
        """Whether anyone listens to *before* events (none: nothing to build)."""
        return bool(self._before)

    def run_before(self, event: SimEvent) -> None:
        """Run *before* subscribers; a Veto propagates to the caller and stops the change."""
        event.resolve()
        for fn in list(self._before):
            fn(event)

    # -- after events ---------------------------------------------------------------------------
    def record_offline(self, conn: Connection, event: SimEvent) -> None:
        """Keep the latest state per object for handlers bound as offline (same transaction)."""
        if event.name not in bound_handlers(conn).offline:
            return
        key = f"{event.entity_type or ''}:{event.entity_id or event.data.get('FIELDS', {})}"
        existing = conn.execute(_QUEUED, {"b_name": event.name, "b_key": key}).first()
        values = {
            "event_data": event.data,
            "timestamp_x": self._sim.clock.now(),
            "message_id": uuid.uuid4().hex,
            "process_id": None,
        }
        if existing:
            conn.execute(_REQUEUE, {"b_id": existing.id, **values})
        else:
            conn.execute(_QUEUE, {"event_name": event.name, "object_key": key,
                                  "event_additional": {}, **values})

    def publish(self, events: list[SimEvent],
                online: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
        """Called after the change committed. ``online``: the bound online handlers as the
        change's transaction saw them (read here when not given)."""
        if not events:
            return
        if online is None:
            online = self._online_handlers()
        for event in events:
            subscribers = list(self._after)
            if subscribers:
                event.resolve()
            for fn in subscribers:
                try:
                    fn(event)
                except Exception:  # a subscriber's failure must not undo the portal's change
                    log.exception("after-event subscriber failed on %s", event.name)
            for handler in online.get(event.name, ()):
                self._enqueue(handler, event)
            for fn in self._watchers:
                try:
                    fn(event)
                except Exception:  # the portal's own reaction must not undo the change
                    log.exception("the portal's reaction to %s failed", event.name)

    def _online_handlers(self) -> Mapping[str, list[dict[str, Any]]]:
        with self._sim.engine.connect() as conn:
            return bound_handlers(conn).online

    def _enqueue(self, handler: dict[str, Any], event: SimEvent) -> None:
        payload = {
            "event": event.name,
            "event_handler_id": str(handler["id"]),
            "data": event.data,
            "ts": str(event.ts),
            "auth": self._sim.outgoing_auth(handler["application_token"]),
        }
        with self._pending_lock:
            self._pending += 1
        self._outbox.put((handler["handler"], flatten_form(payload)))
        self._ensure_thread()

    # -- outbound delivery ----------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._deliver_loop, name="sim-webhooks",
                                            daemon=True)
            self._thread.start()

    def _deliver_loop(self) -> None:
        session = requests.Session()
        while True:
            url, form = self._outbox.get()
            outcome: dict[str, Any] = {"url": url, "event": dict(form).get("event"),
                                       "at": time.time()}
            try:
                response = session.post(
                    url, data=urlencode(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    timeout=self._sim.webhook_timeout,
                )
                outcome["status"] = response.status_code
            except requests.RequestException as exc:  # not retried, as on the portal
                outcome["error"] = str(exc)
                log.info("webhook to %s failed: %s", url, exc)
            self.deliveries = [*self.deliveries[-199:], outcome]
            with self._pending_lock:
                self._pending -= 1
                self._pending_lock.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook has been attempted (tests and scenarios use this)."""
        deadline = time.monotonic() + timeout
        with self._pending_lock:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._pending_lock.wait(remaining)
        return True

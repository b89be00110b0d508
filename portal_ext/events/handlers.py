"""Who reacts to which portal event.

After-event handlers run when an inbox row is processed::

    @handles("ONUSERADD", "ONUSERUPDATE")
    def sync_user(event: PortalEvent, *, portal, client, now) -> None: ...

They run inside the processing transaction: write through ``db.session`` and do not commit
(the row is marked done in the same commit, so a crash leaves neither). The session does not
autoflush while handlers run, so calling the portal holds no write lock on SQLite. Effects
outside the database (portal calls) must be idempotent: a row may be processed again after a
crash.

Before-event handlers run synchronously while the portal is about to change something
(in-process only) and may refuse it by raising :class:`Veto`::

    @before("ONTASKUPDATE")
    def guard(event: PortalEvent, *, portal, now) -> None: raise Veto("...")

Batch handlers take every event of a processed batch at once (consecutive rows of the same
name), so a handler can do set-based work (one query, one insert) for all of them::

    @handles_batch("ONIMNOTIFYADD")
    def fan_out_all(events: list[PortalEvent], *, portal, client, now) -> None: ...

The same rules apply (write through ``db.session``, no commit, idempotent portal calls); an
exception makes every event of the batch be processed again one at a time.

An event may be recognised as not worth storing at all (the extension's own echo):

    @ignores("ONIMNOTIFYADD")
    def own_copy(event: PortalEvent) -> bool: ...

A true answer drops the event at intake, before it is stored, whatever way it came.

A handler that only acts on events of some ways in (``inprocess``, ``webhook``, ``offline``)
says so, and an event no handler acts on is stored already done, with no job to process it
(it stays visible on the Events page)::

    @handles("ONCRMDEALUPDATE", sources=("webhook", "offline"))

Every domain's ``handlers`` module is loaded (portal_ext.domains); a domain reacting to no
event still has one, registering nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from portal_ext import domains

F = TypeVar("F", bound=Callable[..., Any])

HANDLER_MODULES: tuple[str, ...] = domains.modules("handlers")

_AFTER: dict[str, list[Callable[..., Any]]] = {}
_BEFORE: dict[str, list[Callable[..., Any]]] = {}
_BATCH: dict[str, list[Callable[..., Any]]] = {}
_IGNORES: dict[str, list[Callable[..., Any]]] = {}
_SOURCES: dict[Callable[..., Any], frozenset[str]] = {}  # handlers acting on some sources only


class Veto(Exception):
    """Raised by a before-handler to refuse the change; ``message`` is shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _register(table: dict[str, list[Callable[..., Any]]], names: tuple[str, ...]
              ) -> Callable[[F], F]:
    if not names:
        raise ValueError("name at least one event")

    def decorator(fn: F) -> F:
        for name in names:
            registered = table.setdefault(name.upper(), [])
            if fn not in registered:  # importing a module twice registers once
                registered.append(fn)
        return fn

    return decorator


def handles(*names: str, sources: Iterable[str] | None = None) -> Callable[[F], F]:
    """Register an after-event handler for the events ``names`` (case-insensitive); with
    ``sources``, only for events that came in one of those ways."""
    register = _register(_AFTER, names)
    if sources is None:
        return register

    def decorator(fn: F) -> F:
        _SOURCES[fn] = frozenset(sources)
        return register(fn)

    return decorator


def before(*names: str) -> Callable[[F], F]:
    """Register a before-event handler (in-process events only; may raise Veto)."""
    return _register(_BEFORE, names)


def handles_batch(*names: str) -> Callable[[F], F]:
    """Register an after-event handler taking a list of events of the names ``names``."""
    return _register(_BATCH, names)


def ignores(*names: str) -> Callable[[F], F]:
    """Register a predicate ``fn(event) -> bool``: true drops the event at intake."""
    return _register(_IGNORES, names)


def handlers_for(name: str, source: str | None = None) -> list[Callable[..., Any]]:
    """The after-handlers of ``name``; with ``source``, those acting on events from it."""
    registered = _AFTER.get(name.upper(), [])
    if source is None:
        return list(registered)
    return [fn for fn in registered if source in _SOURCES.get(fn, (source,))]


def acts_on(name: str, source: str) -> bool:
    """Whether any handler acts on ``name`` coming from ``source`` (else nothing is to do)."""
    return bool(_BATCH.get(name.upper())) or bool(handlers_for(name, source))


def batch_handlers_for(name: str) -> list[Callable[..., Any]]:
    return list(_BATCH.get(name.upper(), []))


def per_event_names() -> set[str]:
    """Events with at least one per-event handler (processed one row per transaction)."""
    return {name for name, registered in _AFTER.items() if registered}


def is_ignored(event: Any) -> bool:
    """Whether a predicate registered with :func:`ignores` drops ``event`` (a PortalEvent)."""
    return any(predicate(event) for predicate in _IGNORES.get(event.name.upper(), ()))


def before_handlers_for(name: str) -> list[Callable[..., Any]]:
    return list(_BEFORE.get(name.upper(), []))


def handled_events() -> set[str]:
    return set(_AFTER) | set(_BATCH)


def load_handler_modules() -> None:
    for name in HANDLER_MODULES:
        importlib.import_module(name)

"""In-process subscription: callables the composition root hands to the portal's event bus.

Each call runs in a fresh app context of the extension, so it has its own database session:
an event published while the extension itself is calling the portal (inside a request or a
job) is stored and committed on its own, independently of the caller's transaction. An event
the extension ignores (its own notification copies coming back) is dropped before any of that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from portal_ext.events.handlers import is_ignored
from portal_ext.events.intake import (
    accept_inprocess_event,
    before_inprocess_event,
    inprocess_event,
)

EventDict = dict[str, Any]


def inprocess_subscribers(app: Flask) -> tuple[Callable[[EventDict], None],
                                               Callable[[EventDict], None]]:
    """``(before, after)``: ``before(event)`` may raise portal_ext.events.Veto; ``after(event)``
    stores the event (a failure propagates to the bus, which logs it: the portal's change is
    already committed)."""

    def before(event: EventDict) -> None:
        with app.app_context():
            before_inprocess_event(event)

    def after(event: EventDict) -> None:
        if is_ignored(inprocess_event(event)):
            return
        with app.app_context():
            accept_inprocess_event(event)

    return before, after

"""Subscribing the extension's webhook endpoint to a REST portal's events (``event.bind``).

Over REST the portal only sends the events an application bound (api-reference/events/
event-bind.md): ``event.bind{event, handler}`` answers ``true``, a repeated binding is
``ERROR_HANDLER_ALREADY_EXIST``. ``event.get`` lists what is bound, so binding is idempotent:
only what is missing is bound, and running it again changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError

log = logging.getLogger(__name__)
ALREADY_BOUND = "ERROR_HANDLER_ALREADY_EXIST"


def bound_events(client: PortalClient, handler_url: str) -> set[str]:
    """Events the portal sends to ``handler_url`` (upper case)."""
    rows = client.call("event.get") or []
    return {str(row.get("event") or "").upper() for row in rows
            if isinstance(row, dict) and row.get("handler") == handler_url}


def ensure_bindings(client: PortalClient, handler_url: str, events: Iterable[str]) -> list[str]:
    """Bind every event of ``events`` to ``handler_url`` unless it is bound already; returns
    the events bound now. An event the portal does not know raises its PortalError
    (``ERROR_EVENT_NOT_FOUND``)."""
    wanted = list(dict.fromkeys(name.upper() for name in events))
    have = bound_events(client, handler_url)
    added: list[str] = []
    for name in wanted:
        if name in have:
            continue
        try:
            client.call("event.bind", {"event": name, "handler": handler_url})
        except PortalError as error:
            if error.code != ALREADY_BOUND:
                raise
            continue
        added.append(name)
    if added:
        log.info("bound %s to %s", ", ".join(added), handler_url)
    return added

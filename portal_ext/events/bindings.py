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


def bound_events(client: PortalClient, handler_url: str, *, offline: bool = False) -> set[str]:
    """Events the portal sends to ``handler_url`` (upper case), or, with ``offline``, the
    events it keeps in its offline queue (``event.offline.get``)."""
    rows = client.call("event.get") or []
    return {str(row.get("event") or "").upper() for row in rows
            if isinstance(row, dict) and (
                _is_offline(row) if offline
                else not _is_offline(row) and row.get("handler") == handler_url)}


def _is_offline(row: dict[str, object]) -> bool:
    return str(row.get("offline") or "0") not in ("0", "", "False", "false")


def offered_events(client: PortalClient) -> set[str]:
    """Every event this portal can send (``events``), upper case."""
    return {str(name).upper() for name in client.call("events") or []}


def ensure_bindings(client: PortalClient, handler_url: str, events: Iterable[str], *,
                    offline: bool = False) -> list[str]:
    """Bind every event of ``events`` to ``handler_url`` (or, with ``offline``, to the
    portal's offline queue; ``handler_url`` is then unused) unless it is bound already; returns
    the events bound now. An event the portal does not know raises its PortalError
    (``ERROR_EVENT_NOT_FOUND``)."""
    wanted = list(dict.fromkeys(name.upper() for name in events))
    have = bound_events(client, handler_url, offline=offline)
    params = {"event_type": "offline"} if offline else {"handler": handler_url}
    added: list[str] = []
    for name in wanted:
        if name in have:
            continue
        try:
            client.call("event.bind", {"event": name, **params})
        except PortalError as error:
            if error.code != ALREADY_BOUND:
                raise
            continue
        added.append(name)
    if added:
        log.info("bound %s to %s", ", ".join(added), "the offline queue" if offline
                 else handler_url)
    return added

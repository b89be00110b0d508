"""``POST /events/webhook``: the portal's outbound event handler call.

The portal posts ``application/x-www-form-urlencoded`` with PHP-style keys: ``event``,
``event_handler_id``, ``data[FIELDS][ID]``, ``ts``, ``auth[application_token]``,
``auth[member_id]``... and never retries (api-reference/events/index.md), so the endpoint only
verifies and stores, and answers fast. ``auth[application_token]`` must equal the portal's
registered token (safe-event-handlers.md); it is compared in constant time. Errors are JSON
``{"error": {"code", "message", "field"}}``: 401 for a missing or wrong token, 400 naming the
field for a payload the portal would not send (a name nested deeper than the portal's, an id
outside 1 .. 2**31 - 1, a ``ts`` that is not Unix seconds up to the year 9999), 413 for a
request or a field larger than the settings allow (``WEBHOOK_MAX_BYTES``,
``WEBHOOK_MAX_FIELD_BYTES``). Nothing is stored in any of these cases. The token is checked
before the rest of the form is parsed. An event the extension ignores (its own notification
copy) is answered ``{"accepted": false, "duplicate": false, "ignored": true}`` and not stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from portal_ext.events.handlers import is_ignored
from portal_ext.events.intake import store_event
from portal_ext.events.phpform import FormError, parse_pairs
from portal_ext.events.portal_event import MAX_ID, PortalEvent, as_int, positive_id
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import portal_for_member

log = logging.getLogger(__name__)

bp = Blueprint("events_webhook", __name__)

MAX_TS = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime can hold
_EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,99}$")
TOKEN_FIELD = "auth[application_token]"


def _error(status: int, code: str, message: str, field: str | None) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message, "field": field}}), status


def idempotency_key(event: str, data: Any, ts: str, handler_id: str) -> str:
    """The portal sends no delivery id: derive one from what identifies the delivery."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256("\n".join([event, canonical, ts, handler_id]).encode("utf-8"))
    return "webhook:" + digest.hexdigest()


def _id_fields(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The ids the inbox reads from ``data`` (portal_event.entity_id_of), by field name."""
    found = [("data[ID]", data["ID"])] if "ID" in data else []
    for holder in ("FIELDS", "FIELDS_AFTER"):
        fields = data.get(holder)
        if isinstance(fields, dict) and "ID" in fields:
            found.append((f"data[{holder}][ID]", fields["ID"]))
    return found


@bp.post("/events/webhook")
def receive() -> Any:
    # Authenticate from the two flat fields it needs; nothing else is parsed before.
    fields = request.form
    portal = portal_for_member(fields.get("auth[member_id]") or None)
    presented = fields.get(TOKEN_FIELD)
    expected = portal.application_token or ""
    if not presented or not expected or not hmac.compare_digest(
            presented.encode("utf-8"), expected.encode("utf-8")):
        log.warning("event webhook rejected: %s application token from %s",
                    "missing" if not presented else "wrong", request.remote_addr)
        return _error(401, "invalid_application_token",
                      "auth[application_token] is missing or does not match this portal's.",
                      TOKEN_FIELD)
    limit = int(current_app.config["WEBHOOK_MAX_FIELD_BYTES"])
    for field, value in fields.items(multi=True):
        if len(field) > limit or len(value.encode("utf-8")) > limit:
            return _error(413, "too_large", f"A field may hold at most {limit} bytes.",
                          field[:100])
    try:
        form = parse_pairs(fields.items(multi=True))
    except FormError as exc:
        return _error(400, "invalid_field", str(exc), exc.field)
    name = form.get("event")
    if not isinstance(name, str) or not _EVENT_NAME.match(name):
        return _error(400, "invalid_field", "event must be the event's name, e.g. ONCRMDEALADD.",
                      "event")
    data = form.get("data", {})
    if not isinstance(data, dict):
        return _error(400, "invalid_field", "data must hold the event's fields, e.g. "
                      "data[FIELDS][ID].", "data")
    for field, value in _id_fields(data):
        if positive_id(value) is None:
            return _error(400, "invalid_field", f"{field} must be a whole number from 1 to "
                          f"{MAX_ID}.", field)
    ts = form.get("ts", "")
    if not isinstance(ts, str) or (ts and not (ts.isascii() and ts.isdigit() and len(ts) <= 12
                                               and int(ts) <= MAX_TS)):
        return _error(400, "invalid_field", "ts must be a Unix timestamp (whole seconds, up "
                                            "to the year 9999).", "ts")
    handler_id = form.get("event_handler_id", "")
    if not isinstance(handler_id, str):
        return _error(400, "invalid_field", "event_handler_id must be a single value.",
                      "event_handler_id")
    event = PortalEvent(name=name.upper(), source="webhook", data=data, ts=as_int(ts))
    if is_ignored(event):
        return jsonify({"accepted": False, "duplicate": False, "ignored": True}), 200
    key = idempotency_key(event.name, data, ts, handler_id)
    inbox_id = store_event(event, portal=portal, key=key, now=host_utcnow())
    return jsonify({"accepted": inbox_id is not None, "duplicate": inbox_id is None}), 200

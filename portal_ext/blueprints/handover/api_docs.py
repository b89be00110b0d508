"""The handovers' part of openapi.json (paths and schemas, added to the API's document)."""

from __future__ import annotations

from typing import Any

from portal_ext.blueprints.api import openapi
from portal_ext.blueprints.api.params import ID_SCHEMA, path_id
from portal_ext.handover.report import COLUMNS
from portal_ext.moves.models import BATCH_STATES, ITEM_STATES
from portal_ext.moves.types import TYPE_NAMES

_TYPES = {"type": "array", "items": {"type": "string", "enum": list(TYPE_NAMES)}}
_COUNT = {"type": "integer"}

SCHEMAS: dict[str, Any] = {
    "HandoverInput": {"type": "object", "required": ["absence_id"], "properties": {
        "absence_id": {**ID_SCHEMA, "description": "The absence whose user's client "
                       "base goes to the deputy (the absence's, else the standing deputy, "
                       "else the department head)."},
        "types": {**_TYPES, "description": "Which kinds of items (default: all)."},
        "include_closed": {"type": "boolean", "default": False,
                           "description": "Closed items too (default: open ones only)."},
        "include_new_leads": {"type": "boolean", "default": False,
                              "description": "At restore, also give back new leads that "
                              "reached the deputy for these clients during the absence."},
    }, "additionalProperties": False},
    "HandoverApply": {"type": "object", "properties": {
        "start": {"type": "string", "enum": ["absence_start", "now"],
                  "default": "absence_start",
                  "description": "absence_start: an absence that has not begun waits for "
                  "its start (state scheduled; the minute tick starts it); now: the items "
                  "move at once."}}, "additionalProperties": False},
    "HandoverItem": {"type": "object", "properties": {
        "entity_type": {"type": "string", "enum": list(TYPE_NAMES)},
        "entity_id": {"type": "integer"}, "title": {"type": "string"},
        "state": {"type": "string", "enum": list(ITEM_STATES)},
        "note": {"type": ["string", "null"]}, "why": {"type": "string"},
        "portal_message": {"type": ["string", "null"], "description": "A failed item: the "
                           "portal's refusal as plain text (its HTML removed)."},
        "link": {"type": ["string", "null"], "description": "The item on the portal."},
        "from_user_id": {"type": "integer"}, "to_user_id": {"type": "integer"}}},
    "HandoverProgress": {"type": "object", "properties": {
        "state": {"type": "string", "enum": list(BATCH_STATES)},
        "phase": {"type": "string", "enum": ["apply", "restore"]},
        "total": _COUNT, "done": _COUNT, "failed": _COUNT, "percent": {"type": "number"},
        "rate_per_s": {"type": ["number", "null"]}, "eta_s": {"type": ["number", "null"]},
        "by_type": {"type": "object", "description": "type -> item state -> count",
                    "additionalProperties": {"type": "object",
                                             "additionalProperties": _COUNT}}}},
    "Handover": {"type": "object", "properties": {
        "id": {"type": "integer"}, "state": {"type": "string", "enum": list(BATCH_STATES)},
        "absence_id": {"type": ["integer", "null"]}, "owner_id": {"type": "integer"},
        "deputy_id": {"type": ["integer", "null"]}, "types": _TYPES,
        "include_closed": {"type": "boolean"}, "include_new_leads": {"type": "boolean"},
        "created_by": {"type": ["integer", "null"], "description": "null: the policy."},
        "counts": {"type": "object", "description": "type -> " + ", ".join(COLUMNS),
                   "additionalProperties": {"type": "object",
                                            "additionalProperties": _COUNT}},
        "totals": {"type": "object", "additionalProperties": _COUNT},
        "progress": openapi._ref("HandoverProgress"),
        "failed": {"type": "integer", "description": "Items the portal refused in the last "
                   "run (the handover, or its give-back): non-zero means the run ended with "
                   "failures; POST .../retry tries them again."},
        "problems": {"type": "array", "items": openapi._ref("HandoverItem"),
                     "description": "Conflicts, deleted, skipped and failed items."},
        "sample": {"type": "object", "description": "Preview only: a few items per type.",
                   "additionalProperties": {"type": "array",
                                            "items": openapi._ref("HandoverItem")}},
        "links": {"type": "object"}}},
}

_ERRORS = {
    "400": openapi._error_response("Not a JSON object, or an unknown field (`field`)."),
    "401": openapi._error_response("Missing, unknown or revoked token."),
    "403": openapi._error_response("Not an administrator or the user's department head."),
    "404": openapi._error_response("No such absence or handover."),
    "409": openapi._error_response("The absence already has a handover, or the handover is "
                                   "not in a state for this; nothing was changed."),
    "422": openapi._error_response("Rejected (`field` names the input); nothing was changed."),
    "503": openapi._error_response("The portal did not answer; nothing was changed."),
}
_ID = path_id("handover_id", "A handover's id.")


_op = openapi.operation_maker("Handover", "HandoverInput", _ERRORS, _ID)
_apply = _op("applyHandover", "Confirm the preview: the items move when the absence starts, "
             "or now", "202")


PATHS: dict[str, Any] = {
    "/handovers": {"post": _op("createHandover", "Preview handing an absent user's client "
                               "base to the deputy (nothing moves yet)", "201", body=True,
                               path=False)},
    "/handovers/{handover_id}": {"get": _op("getHandover", "State, counts per type and "
                                            "progress", "200")},
    "/handovers/{handover_id}/apply": {"post": {
        **_apply, "responses": {**_apply["responses"], **openapi.TOO_LARGE},
        "requestBody": {"required": False, "content": {"application/json": {
            "schema": openapi._ref("HandoverApply")}}}}},
    "/handovers/{handover_id}/restore": {"post": _op("restoreHandover", "Give back every "
                                                     "item still with the deputy", "202")},
    "/handovers/{handover_id}/retry": {"post": _op("retryHandover", "Try again the items the "
                                                   "handover or its give-back failed to "
                                                   "move", "202")},
}

openapi.SCHEMAS.update(SCHEMAS)
openapi.EXTRA_PATHS.update(PATHS)

"""The transfers' part of openapi.json (paths and schemas, added to the API's document)."""

from __future__ import annotations

from typing import Any

from portal_ext.blueprints.api import openapi
from portal_ext.blueprints.api.params import ID_SCHEMA, path_id
from portal_ext.moves.models import BATCH_STATES
from portal_ext.transfers.strategies import ENTITY_TYPES, STRATEGIES

_TYPES = {"type": "array", "items": {"type": "string", "enum": list(ENTITY_TYPES)}}
_COUNT = {"type": "integer"}
_PER_TYPE = {"type": "object", "additionalProperties": _COUNT}
_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "TransferInput": {"type": "object", "required": ["user_id", "strategy"], "properties": {
        "user_id": {**ID_SCHEMA, "description": "The portal user whose items move "
                    "(usually a dismissed one)."},
        "strategy": {"type": "string", "enum": list(STRATEGIES), "description":
                     "person: everything to one successor; head: to the nearest active "
                     "department head; spread: over the chosen successors (or "
                     "`department_id`) by their current load of open items, evenly within "
                     "one item per person, skipping people away now; per_type: a successor "
                     "per item type."},
        "successors": {"description": "person: one user id (or a list of one); spread: a "
                       "list of user ids; per_type: an object type -> user id. Successors "
                       "must be active and not the user.",
                       "oneOf": [ID_SCHEMA, {"type": "array", "items": ID_SCHEMA},
                                 {"type": "object", "additionalProperties": ID_SCHEMA}]},
        "department_id": {"anyOf": [ID_SCHEMA, {"type": "null"}], "description": "spread: "
                          "everyone in this portal department and its sub-departments (no "
                          "other strategy takes it)."},
        "types": {**_TYPES, "description": "Which kinds of items (default: all; per_type: "
                  "the types given in `successors`)."},
        "include_closed": {"type": "boolean", "default": True,
                           "description": "Closed items too (won and lost deals, converted "
                           "leads, paid invoices, completed activities and tasks)."},
    }, "additionalProperties": False},
    "TransferShare": {"type": "object", "properties": {
        "user_id": _COUNT, "load_before": _COUNT, "load_after": _COUNT, "total": _COUNT,
        "received": _PER_TYPE}},
    "Transfer": {"type": "object", "properties": {
        "id": _COUNT, "state": {"type": "string", "enum": list(BATCH_STATES)},
        "user_id": _COUNT, "strategy": {"type": ["string", "null"]},
        "automatic": {"type": ["string", "null"], "description": "dismissal | absence: an "
                      "automatic change of responsible (companies and their contacts)."},
        "types": _TYPES, "include_closed": {"type": "boolean"},
        "request": {"type": ["object", "null"]},
        "counts": {**_PER_TYPE, "description": "Items planned per type."},
        "per_successor": {"type": "object", "description": "successor id -> type -> items",
                          "additionalProperties": _PER_TYPE},
        "successors": {"type": "array", "items": openapi._ref("TransferShare"),
                       "description": "The strategy's decision: each successor's load "
                       "before and after, and what they receive."},
        "skipped": {"type": "array", "items": {"type": "object"},
                    "description": "Candidates left out, with the reason (dismissed, away, "
                    "the user)."},
        "progress": {"type": "object", "description": "As a handover's progress."},
        "by_state": {"type": "object", "description": "type -> item state -> count"},
        "created_by": {"type": ["integer", "null"], "description": "null: the policy."},
        "created_at": _TIME, "applied_at": _TIME, "restored_at": _TIME,
        "undo_until": _TIME, "can_undo": {"type": "boolean"},
        "failed": {"type": "integer", "description": "Items the portal refused in the last "
                   "run (the transfer, or its undo): non-zero means the run ended with "
                   "failures; POST .../retry tries them again."},
        "problems": {"type": "array", "items": {"type": "object"}, "description": "Conflicts, "
                     "deleted, skipped and failed items: `why` in plain words, "
                     "`portal_message` the portal's own (HTML removed)."},
        "links": {"type": "object"}}},
}

_ERRORS = {
    "400": openapi._error_response("Not a JSON object, or an unknown field (`field`)."),
    "401": openapi._error_response("Missing, unknown or revoked token."),
    "403": openapi._error_response("Not an administrator."),
    "404": openapi._error_response("No such transfer."),
    "409": openapi._error_response("A transfer of the user is already in progress, the "
                                   "transfer is not in a state for this (`conflict`), or the "
                                   "undo period is over (`expired`); nothing was changed."),
    "422": openapi._error_response("Rejected (`field` names the input): unknown user, "
                                   "dismissed successor, empty selection...; nothing was "
                                   "changed."),
    "503": openapi._error_response("The portal did not answer; nothing was changed."),
}
_ID = path_id("transfer_id", "A transfer's id.")


_op = openapi.operation_maker("Transfer", "TransferInput", _ERRORS, _ID)


PATHS: dict[str, Any] = {
    "/transfers": {"post": _op("createTransfer", "Preview a dismissal transfer (nothing "
                                                 "moves)", "201", body=True, path=False)},
    "/transfers/{transfer_id}": {"get": _op("getTransfer", "A transfer: state, counts per "
                                            "type and successor, progress", "200")},
    "/transfers/{transfer_id}/apply": {"post": _op("applyTransfer", "Confirm a previewed "
                                                   "transfer; its items start moving", "202")},
    "/transfers/{transfer_id}/undo": {"post": _op("undoTransfer", "Give back every item the "
                                                  "successors still hold (within the undo "
                                                  "period)", "202")},
    "/transfers/{transfer_id}/retry": {"post": _op("retryTransfer", "Try again the items the "
                                                   "transfer or its undo failed to move",
                                                   "202")},
}

openapi.SCHEMAS.update(SCHEMAS)
openapi.EXTRA_PATHS.update(PATHS)

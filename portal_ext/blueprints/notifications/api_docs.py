"""The fan-out's part of openapi.json: query parameters (parsed by the routes from these same
declarations), schemas and paths, added to the API's document (blueprints.api.openapi)."""

from __future__ import annotations

from typing import Any

from portal_ext.blueprints.api import openapi
from portal_ext.blueprints.api.params import ID_SCHEMA, PAGING, QueryParam, id_param, path_id
from portal_ext.notifications.kinds import PORTAL_KINDS, TEAM_KINDS
from portal_ext.notifications.log import REASON_FILTERS
from portal_ext.notifications.models import DELIVERY_STATES
from portal_ext.notifications.rules import REASONS

DELIVERIES_QUERY: tuple[QueryParam, ...] = (
    id_param("user", "Only copies this portal user received, or copies of notifications "
             "meant for them."),
    QueryParam("reason", "string", "Only copies sent for this reason (a copy sent for both "
               "matches either).", enum=REASON_FILTERS),
    QueryParam("state", "string", "Only deliveries in this state.", enum=DELIVERY_STATES),
    QueryParam("since", "date-time", "Only deliveries recorded at or after this time "
               "(ISO 8601; without an offset it is UTC)."),
    QueryParam("until", "date-time", "Only deliveries recorded before this time."),
    *PAGING,
)

_USER_ID = {**ID_SCHEMA, "description": "A portal user id."}
_TIME = {"type": ["string", "null"], "format": "date-time"}
SCHEMAS: dict[str, Any] = {
    "Team": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "kinds": {"type": "array", "items": {"type": "string", "enum": list(TEAM_KINDS)}},
        "members": {"type": "array", "items": _USER_ID},
        "created_at": _TIME, "updated_at": _TIME}},
    "TeamInput": {"type": "object", "additionalProperties": False,
                  "required": ["name", "kinds", "members"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "kinds": {"type": "array", "minItems": 1,
                  "items": {"type": "string", "enum": list(TEAM_KINDS)}},
        "members": {"type": "array", "minItems": 2, "items": _USER_ID}}},
    "TeamList": {"type": "object", "properties": {
        "items": {"type": "array", "items": openapi._ref("Team")},
        "total": {"type": "integer"}}},
    "Delivery": {"type": "object", "properties": {
        "id": {"type": "integer"}, "source_key": {"type": "string"},
        "source_notification_id": {"type": ["integer", "null"],
                                   "description": "The portal's id of the original "
                                                  "(in-process mode only)."},
        "source_kind": {"type": "string", "enum": list(PORTAL_KINDS)},
        "kind": {"type": "string", "enum": list(TEAM_KINDS)},
        "entity_type": {"type": ["string", "null"]}, "entity_id": {"type": ["integer", "null"]},
        "owner_id": _USER_ID, "actor_id": {"type": ["integer", "null"]},
        "recipient_id": _USER_ID, "reason": {"type": "string", "enum": list(REASONS)},
        "reasons": {"type": "array", "items": {"type": "object"},
                    "description": "Every reason in full: kind (deputy|team), owner_id, until, "
                                   "cover, path, team_id, team_name, stands_in_for."},
        "message": {"type": "string", "description": "The copy's text as sent."},
        "state": {"type": "string", "enum": list(DELIVERY_STATES)},
        "attempts": {"type": "integer"}, "next_attempt_at": _TIME,
        "tag": {"type": ["string", "null"]}, "created_at": _TIME, "sent_at": _TIME,
        "error": {"type": ["string", "null"]},
        "portal_notification_id": {"type": ["integer", "null"]}}},
    "DeliveryPage": openapi._page_of("Delivery"),
}

_ERRORS = {
    "400": openapi._error_response("Not a JSON object, or an unknown field (`field`)."),
    "401": openapi._error_response("Missing, unknown or revoked token."),
    "403": openapi._error_response("Only administrators manage teams."),
    "422": openapi._error_response("Rejected (code `validation`; `field` names the input); "
                                   "nothing was saved."),
}
_TEAM_ID = path_id("team_id", "A team's id.")
_NOT_FOUND = {"404": openapi._error_response("No such team.")}
_TOO_LARGE = {"413": openapi._error_response("The body is larger than the API accepts.")}


def _json(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": openapi._ref(schema)}}}


def _op(op_id: str, summary: str, responses: dict[str, Any], *, roles: str,
        body: str | None = None, path: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op_id, "summary": summary, "description": f"Roles: {roles}.",
        "security": [{"bearerAuth": []}], "parameters": list(path),
        "responses": {**responses, **_ERRORS, **(_NOT_FOUND if path else {}),
                      **(_TOO_LARGE if body else {})}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": openapi._ref(body)}}}
    return operation


PATHS: dict[str, Any] = {
    "/teams": {
        "get": _op("listTeams", "Teams and what they share", {"200": _json("TeamList")},
                   roles="everyone"),
        "post": _op("createTeam", "Create a team", {"201": _json("Team", "Created.")},
                    roles="admin", body="TeamInput"),
    },
    "/teams/{team_id}": {
        "get": _op("getTeam", "One team", {"200": _json("Team")}, roles="everyone",
                   path=(_TEAM_ID,)),
        "patch": _op("updateTeam", "Change a team's name, kinds or members (each optional)",
                     {"200": _json("Team")}, roles="admin", body="TeamChange", path=(_TEAM_ID,)),
        "delete": _op("deleteTeam", "Delete a team", {"204": {"description": "Deleted."}},
                      roles="admin", path=(_TEAM_ID,)),
    },
    "/deliveries": {"get": openapi._operation(
        operation_id="listDeliveries", summary="The delivery log",
        description="Copies of portal notifications sent to deputies and team members, newest "
                    "first. An administrator sees all; a department head those concerning "
                    "their people; anyone else their own.",
        params=DELIVERIES_QUERY, schema="DeliveryPage", roles="everyone")},
}

SCHEMAS["TeamChange"] = {key: value for key, value in SCHEMAS["TeamInput"].items()
                         if key != "required"}
openapi.SCHEMAS.update(SCHEMAS)
openapi.EXTRA_PATHS.update(PATHS)

"""The stage robots' part of openapi.json: query parameters (parsed by the routes from these
same declarations), schemas and paths, added to the API's document (blueprints.api.openapi)."""

from __future__ import annotations

from typing import Any

from portal_ext.blueprints.api import openapi
from portal_ext.blueprints.api.params import ID_SCHEMA, QueryParam, id_param, path_id
from portal_ext.deadlines.rules import MODES
from portal_ext.robots.models import ACTIONS, ENTITIES, ON_LEAVE, OUTCOMES
from portal_ext.robots.rules import MAX_CHECKLIST, MAX_DAYS, MAX_HOURS

RUNS_QUERY: tuple[QueryParam, ...] = (
    id_param("robot", "Only the runs of this robot."),
    id_param("item", "Only the runs for this lead or deal id."),
    QueryParam("entity", "string", "Only runs for leads or for deals.", enum=ENTITIES),
)

_TIME = {"type": ["string", "null"], "format": "date-time"}
_USER_REF = {"oneOf": [{"type": "string", "enum": ["head"]}, {**ID_SCHEMA}]}
_INPUT_PROPS: dict[str, Any] = {
    "entity": {"type": "string", "enum": list(ENTITIES)},
    "category_id": {"type": ["integer", "null"], "minimum": 0, "maximum": 2147483647,
                    "description": "The deal pipeline (deals only; default 0)."},
    "status_id": {"type": "string", "minLength": 1, "maxLength": 64,
                  "description": "The lead status or deal stage id (crm.status.list)."},
    "title": {"type": "string", "minLength": 1, "maxLength": 255,
              "description": "Template; placeholders {TITLE}, {COMPANY_TITLE}, "
                             "{CONTACT_NAME}, {PHONE}, {ASSIGNED_BY_NAME}, {STATUS_NAME}, "
                             "{LINK}."},
    "description": {"type": "string", "maxLength": 10000},
    "responsible": {"oneOf": [{"type": "string", "enum": ["responsible", "head"]},
                              {"type": "string", "pattern": "^[1-9][0-9]{0,9}$"},
                              {**ID_SCHEMA}],
                    "description": "The item's responsible, their head, or a user id."},
    "deadline_hours": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_HOURS},
    "deadline_days": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_DAYS},
    "policy": {"type": "string", "enum": ["", *MODES],
               "description": "A deadline guard mode; empty: the robots' policy."},
    "auditors": {"type": "array", "maxItems": 20, "items": _USER_REF},
    "task_control": {"type": "boolean"},
    "checklist": {"type": "array", "maxItems": MAX_CHECKLIST,
                  "items": {"type": "string", "minLength": 1, "maxLength": 255}},
    "on_leave": {"type": "string", "enum": list(ON_LEAVE)},
    "enabled": {"type": "boolean"},
}
_ROBOT_PROPS: dict[str, Any] = {
    **_INPUT_PROPS, "id": {"type": "integer"},
    "category_id": {"type": ["integer", "null"]},
    "responsible": {"type": "string"},
    "auditors": {"type": "array", "items": {"type": ["string", "integer"]}},
    "checklist": {"type": "array", "items": {"type": "string"}},
    "description": {"type": "string"}, "title": {"type": "string"},
    "status_id": {"type": "string"}, "policy": {"type": "string"},
    "deadline_hours": {"type": ["integer", "null"]},
    "deadline_days": {"type": ["integer", "null"]},
    "version": {"type": "integer"}, "broken": {"type": ["string", "null"]},
    "broken_field": {"type": ["string", "null"]},
    "created_by": {"type": ["integer", "null"]}, "created_at": _TIME,
    "updated_by": {"type": ["integer", "null"]}, "updated_at": _TIME}
SCHEMAS: dict[str, Any] = {
    "StageRobot": {"type": "object", "properties": _ROBOT_PROPS},
    "StageRobotInput": {"type": "object", "additionalProperties": False,
                        "required": ["entity", "status_id", "title"],
                        "properties": _INPUT_PROPS},
    "StageRobotPatch": {"type": "object", "additionalProperties": False,
                        "properties": {**_INPUT_PROPS, "revert_to": {
                            "type": "integer", "minimum": 1, "maximum": 2147483647,
                            "description": "Go back to this version (alone)."}}},
    "StageRobotList": {"type": "object", "properties": {
        "items": {"type": "array", "items": openapi._ref("StageRobot")},
        "total": {"type": "integer"}}},
    "StageRobotVersion": {"type": "object", "properties": {
        "version": {"type": "integer"}, "action": {"type": "string", "enum": list(ACTIONS)},
        "changed": {"type": "array", "items": {"type": "string"}},
        "fields": {"type": "object"}, "actor_id": {"type": ["integer", "null"]}, "at": _TIME}},
    "StageRobotDetail": {"allOf": [openapi._ref("StageRobot"), {"type": "object",
                         "properties": {"versions": {"type": "array", "items": openapi._ref(
                             "StageRobotVersion")}}}]},
    "StageRobotPreviewInput": {"type": "object", "additionalProperties": False,
                               "required": ["item_id"], "properties": {"item_id": ID_SCHEMA}},
    "StageRobotPreview": {"type": "object", "properties": {
        "item_id": {"type": "integer"}, "entity": {"type": "string"},
        "title": {"type": "string"}, "description": {"type": "string"},
        "responsible_id": {"type": ["integer", "null"]}, "responsible_name": {"type": "string"},
        "entered_at": _TIME, "deadline": _TIME,
        "explanation": {"type": "string",
                        "description": "entered at Fri 17:30 + 4 working hours = Mon 11:30"},
        "auditors": {"type": "array", "items": {"type": "integer"}},
        "task_control": {"type": "boolean"},
        "checklist": {"type": "array", "items": {"type": "string"}},
        "policy": {"type": "string"}, "binding": {"type": "string"}}},
    "StageRobotRun": {"type": "object", "properties": {
        "id": {"type": "integer"}, "robot_id": {"type": "integer"},
        "robot_version": {"type": "integer"}, "entity": {"type": "string"},
        "item_id": {"type": "integer"}, "entry": {"type": "string"},
        "stage_id": {"type": "string"}, "entered_at": _TIME,
        "task_id": {"type": ["integer", "null"]}, "responsible_id": {"type": ["integer", "null"]},
        "deadline": _TIME, "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "error": {"type": ["string", "null"]}, "created_at": _TIME, "closed_at": _TIME}},
    "StageRobotRunList": {"type": "object", "properties": {
        "items": {"type": "array", "items": openapi._ref("StageRobotRun")},
        "total": {"type": "integer"}}},
}

_ERRORS = {
    "400": openapi._error_response("Not a JSON object, or an unknown field or parameter "
                                   "(`field`)."),
    "401": openapi._error_response("Missing, unknown or revoked token."),
    "403": openapi._error_response("The caller's role may not do this."),
    "422": openapi._error_response("Rejected (code `validation`; `field` names the input; "
                                   "for a template the message names the unknown "
                                   "placeholder); nothing was saved."),
}
_TOO_LARGE = {"413": openapi._error_response("The body is larger than the API accepts.")}
_ROBOT = path_id("robot_id", "A stage robot's id.")


def _json(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": openapi._ref(schema)}}}


def _op(op_id: str, summary: str, responses: dict[str, Any], *, roles: str,
        body: str | None = None, path: tuple[dict[str, Any], ...] = (),
        query: tuple[QueryParam, ...] = ()) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op_id, "summary": summary, "description": f"Roles: {roles}.",
        "security": [{"bearerAuth": []}],
        "parameters": [*path, *(q.openapi() for q in query)],
        "responses": {**responses, **_ERRORS,
                      **({"404": openapi._error_response("Not found.")} if path else {}),
                      **(_TOO_LARGE if body else {})}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": openapi._ref(body)}}}
    return operation


_CONFLICT = {"409": openapi._error_response("The version asked for is the current one.")}
PATHS: dict[str, Any] = {
    "/stage-robots": {
        "get": _op("listStageRobots", "The stage robots", {"200": _json("StageRobotList")},
                   roles="admin, head"),
        "post": _op("createStageRobot", "Save a new stage robot (validated against the "
                    "portal first)", {"201": _json("StageRobot", "Created.")}, roles="admin",
                    body="StageRobotInput"),
    },
    "/stage-robots/{robot_id}": {
        "get": _op("getStageRobot", "A stage robot and its versions",
                   {"200": _json("StageRobotDetail")}, roles="admin, head", path=(_ROBOT,)),
        "patch": _op("updateStageRobot", "Change, disable/enable or revert a stage robot "
                     "(a new version)", {"200": _json("StageRobot"), **_CONFLICT},
                     roles="admin", body="StageRobotPatch", path=(_ROBOT,)),
        "delete": _op("deleteStageRobot", "Delete a stage robot",
                      {"204": {"description": "Deleted."}}, roles="admin", path=(_ROBOT,)),
    },
    "/stage-robots/{robot_id}/preview": {"post": _op(
        "previewStageRobot", "The task the robot would create for an item entering its stage "
        "now (nothing is created)", {"200": _json("StageRobotPreview")}, roles="admin, head",
        body="StageRobotPreviewInput", path=(_ROBOT,))},
    "/stage-robots/runs": {"get": _op(
        "listStageRobotRuns", "The robots' runs, newest first",
        {"200": _json("StageRobotRunList")}, roles="admin, head", query=RUNS_QUERY)},
}

openapi.SCHEMAS.update(SCHEMAS)
openapi.EXTRA_PATHS.update(PATHS)

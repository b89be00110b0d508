"""The absences' part of openapi.json: query parameters (parsed by the routes from these same
declarations), paths and schemas, added to the API's document (blueprints.api.openapi)."""

from __future__ import annotations

from typing import Any

from portal_ext.absences.models import KINDS, STATES
from portal_ext.blueprints.api import openapi
from portal_ext.blueprints.api.params import ID_SCHEMA, PAGING, QueryParam, id_param, path_id

ABSENCES_QUERY: tuple[QueryParam, ...] = (
    id_param("user", "Only this portal user's absences."),
    id_param("deputy", "Only absences naming this portal user as deputy."),
    QueryParam("state", "string", "Only absences in this state.", enum=STATES),
    QueryParam("from", "date-or-time", "Only absences still running at or after this date "
               "or time (ISO 8601; without an offset, portal time)."),
    QueryParam("to", "date-or-time", "Only absences starting by this date (inclusive) or "
               "time."),
    *PAGING,
)
DEPUTIES_QUERY: tuple[QueryParam, ...] = (
    id_param("user", "Only this portal user's standing deputy."),
)

_TIME = {"type": "string", "format": "date-time",
         "description": "ISO 8601. Input without an offset is portal time; a bare date "
                        "(2026-12-14) is a whole day, so an end date is inclusive."}
_USER_ID = {**ID_SCHEMA, "description": "A portal user id."}
_NULLABLE_USER = {"anyOf": [ID_SCHEMA, {"type": "null"}], "description": "A portal user id."}

SCHEMAS: dict[str, Any] = {
    "Absence": {"type": "object", "properties": {
        "id": {"type": "integer"}, "user_id": _USER_ID, "user_name": {"type": "string"},
        "start": _TIME, "end": {**_TIME, "description": "Exclusive end, portal offset."},
        "last_day": {"type": "string", "format": "date"},
        "kind": {"type": "string", "enum": list(KINDS)}, "deputy_id": _NULLABLE_USER,
        "deputy_name": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"],
                 "description": "Only for those who may edit the absence."},
        "state": {"type": "string", "enum": list(STATES)},
        "source": {"type": "string", "enum": ["manual", "chart"]},
        "chart_entry_id": {"type": ["integer", "null"]}, "recorded_by_id": _NULLABLE_USER,
        "recorded_at": _TIME, "updated_at": _TIME, "temporary_access": {"type": "boolean"},
        "access": {"type": "object", "properties": {
            "user_id": _NULLABLE_USER, "granted_at": {"type": ["string", "null"]},
            "error": {"type": ["string", "null"]}}},
        "covered_now_by": {"type": ["object", "null"],
                           "description": "GET of one absence: who covers now, and how."},
    }},
    "AbsenceInput": {"type": "object", "required": ["start", "end"], "properties": {
        "user_id": {**_USER_ID, "description": "Who is away (default: you)."},
        "start": _TIME, "end": _TIME, "kind": {"type": "string", "enum": list(KINDS),
                                               "default": "vacation"},
        "deputy_id": {**_NULLABLE_USER, "description": "null: the standing deputy, else the "
                                                       "department head."},
        "note": {"type": "string"}, "temporary_access": {"type": "boolean", "default": False},
    }, "additionalProperties": False},
    "AbsencePage": openapi._page_of("Absence"),
    "CoverItem": {"type": "object", "properties": {
        "kind": {"type": "string", "enum": ["activity", "task", "lead", "email"]},
        "id": {"type": "integer"}, "title": {"type": "string"},
        "when": {"type": ["string", "null"], "format": "date-time"},
        "link": {"type": ["string", "null"], "description": "The item's page on the portal."},
        "overdue": {"type": "boolean"}}},
    "CoverList": {"type": "object", "properties": {
        "absence_id": {"type": "integer"}, "user_id": _USER_ID,
        "covered_by": _NULLABLE_USER, "total": {"type": "integer"},
        **{name: {"type": "array", "items": openapi._ref("CoverItem")}
           for name in ("activities", "tasks", "leads", "emails")}}},
    "StandingDeputy": {"type": "object", "properties": {
        "user_id": _USER_ID, "user_name": {"type": ["string", "null"]}, "deputy_id": _USER_ID,
        "deputy_name": {"type": ["string", "null"]}, "set_by_id": _NULLABLE_USER}},
    "StandingDeputyInput": {"type": "object", "required": ["deputy_id"], "properties": {
        "deputy_id": {**_NULLABLE_USER, "description": "null clears it."}},
        "additionalProperties": False},
    "StandingDeputyList": {"type": "object", "properties": {
        "items": {"type": "array", "items": openapi._ref("StandingDeputy")},
        "total": {"type": "integer"}}},
}

_ERRORS = {
    "400": openapi._error_response("Not a JSON object, or an unknown field (`field`)."),
    "401": openapi._error_response("Missing, unknown or revoked token."),
    "403": openapi._error_response("You may not change this user's absences."),
    "422": openapi._error_response("Rejected (code `validation` or `invalid_parameter`; "
                                   "`field` names the input); nothing was saved."),
}
_NOT_FOUND = {"404": openapi._error_response("No such absence or user.")}
_TOO_LARGE = {"413": openapi._error_response("The body is larger than the API accepts.")}
_ABSENCE_ID = path_id("absence_id", "An absence's id.")
_USER_PATH = path_id("user_id", "A portal user id.")


def _json(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": openapi._ref(schema)}}}


def _op(op_id: str, summary: str, responses: dict[str, Any], *, params: Any = (),
        body: str | None = None, path: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op_id, "summary": summary, "security": [{"bearerAuth": []}],
        "parameters": [*path, *(p.openapi() for p in params)],
        "responses": {**responses, **_ERRORS, **(_NOT_FOUND if path else {}),
                      **(_TOO_LARGE if body else {})}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": openapi._ref(body)}}}
    return operation


_NO_CONTENT = {"204": {"description": "Done."}}
PATHS: dict[str, Any] = {
    "/absences": {
        "get": _op("listAbsences", "Absences, newest first",
                   {"200": _json("AbsencePage")}, params=ABSENCES_QUERY),
        "post": _op("createAbsence", "Record an absence (yourself, your people, or anyone "
                    "as an administrator)", {"201": _json("Absence", "Recorded.")},
                    body="AbsenceInput"),
    },
    "/absences/{absence_id}": {
        "get": _op("getAbsence", "One absence", {"200": _json("Absence")}, path=(_ABSENCE_ID,)),
        "patch": _op("updateAbsence", "Change some fields", {"200": _json("Absence")},
                     body="AbsenceChange", path=(_ABSENCE_ID,)),
        "delete": _op("deleteAbsence", "Delete an absence (temporary access is withdrawn)",
                      _NO_CONTENT, path=(_ABSENCE_ID,)),
    },
    "/absences/{absence_id}/cover": {
        "get": _op("getAbsenceCover", "The deputy's cover list: due activities and tasks, new "
                   "leads, incoming e-mails, with links to the portal",
                   {"200": _json("CoverList")}, path=(_ABSENCE_ID,)),
    },
    "/deputies": {
        "get": _op("listStandingDeputies", "Standing deputies",
                   {"200": _json("StandingDeputyList")}, params=DEPUTIES_QUERY),
    },
    "/deputies/{user_id}": {
        "put": _op("setStandingDeputy", "Set (or with null clear) a standing deputy",
                   {"200": _json("StandingDeputy"), **_NO_CONTENT}, path=(_USER_PATH,),
                   body="StandingDeputyInput"),
        "delete": _op("clearStandingDeputy", "Clear a standing deputy", _NO_CONTENT,
                      path=(_USER_PATH,)),
    },
}

SCHEMAS["AbsenceChange"] = {key: value for key, value in SCHEMAS["AbsenceInput"].items()
                            if key != "required"}
openapi.SCHEMAS.update(SCHEMAS)
openapi.EXTRA_PATHS.update(PATHS)

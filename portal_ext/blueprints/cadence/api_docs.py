"""The cadence's part of openapi.json (paths and schemas, added to the API's document)."""

from __future__ import annotations

from typing import Any

from portal_ext.blueprints.api import openapi
from portal_ext.blueprints.api.params import PAGING
from portal_ext.blueprints.cadence.api import FILTERS
from portal_ext.cadence import rules, services

_INT = {"type": "integer"}
_NINT = {"type": ["integer", "null"]}
_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_INTERVAL = {"type": "object", "properties": {
    "count": {"type": "integer", "minimum": 1, "maximum": services.MAX_INTERVAL * 31},
    "unit": {"type": "string", "enum": list(rules.UNITS)},
    "warning_days": {"type": "integer", "minimum": 0, "maximum": 365}},
    "additionalProperties": False}
_CONTACT = {"type": "object", "properties": {
    "min_call_seconds": {"type": "integer", "minimum": 0, "maximum": 3600},
    "email_direction": {"type": "string", "enum": list(rules.EMAIL_DIRECTIONS)},
    "meetings": {"type": "boolean"}}, "additionalProperties": False}

SCHEMAS: dict[str, Any] = {
    "CadenceSettings": {"type": "object", "properties": {
        "category_field": {"type": "string", "pattern": "^UF_CRM_", "maxLength": 50,
                           "description": "A company list field; UF_CRM_CLIENT_CATEGORY is "
                           "created with items A, B, C when missing."},
        "category_map": {"type": "object", "additionalProperties": {
            "type": "string", "enum": list(rules.CATEGORIES)},
            "description": "The field's item id -> category (default: by XML_ID or value)."},
        "intervals": {"type": "object", "properties": {c: _INTERVAL for c in rules.CATEGORIES},
                      "additionalProperties": False},
        "contact": _CONTACT,
        "digest_hour": {"type": ["integer", "null"], "minimum": 0, "maximum": 23,
                        "description": "The hour (portal time) of the daily digest to each "
                        "manager with overdue clients; null: no digest."}},
        "additionalProperties": False},
    "CadenceRow": {"type": "object", "properties": {
        "company_id": _INT, "title": {"type": "string"}, "url": _STR, "category": _STR,
        "responsible_id": _NINT, "last_call_at": _TIME, "last_email_at": _TIME,
        "last_contact": {"type": ["object", "null"], "description": "channel (call, email, "
                         "meeting), direction (in, out), by (user id), bound_to "
                         "(company:ID, contact:ID, deal:ID, lead:ID), at."},
        "due_at": {"type": ["string", "null"], "format": "date"},
        "state": {"type": "string", "enum": list(rules.STATES)},
        "overdue": {"type": "boolean"}, "days_overdue": _INT}},
    "CadenceReport": {"type": "object", "properties": {
        "items": {"type": "array", "items": openapi._ref("CadenceRow")},
        "page": _INT, "per_page": _INT, "total": _INT, "pages": _INT,
        "today": {"type": "string", "format": "date"}}},
    "CadenceLoad": {"type": "object", "properties": {"items": {"type": "array", "items": {
        "type": "object", "properties": {"responsible_id": _NINT, "name": {"type": "string"},
                                         "categories": {"type": "object"},
                                         "states": {"type": "object"}, "total": _INT}}}}},
    "CadencePlanCall": {"type": "object", "required": ["company_id", "when"], "properties": {
        "company_id": {"type": "integer", "minimum": 1},
        "when": {"type": "string", "format": "date-time", "description": "When to call "
                 "(in the future)."}}, "additionalProperties": False},
    "CadencePlannedCall": {"type": "object", "properties": {
        "activity_id": _INT, "company_id": _INT, "responsible_id": _NINT,
        "phone": {"type": "string"}, "when": {"type": "string", "format": "date-time"}}},
    "CadenceResync": {"type": "object", "properties": {
        "state": {"type": "string"}, "percent": _INT, "requests": _INT, "stage": _STR,
        "started_at": _TIME, "finished_at": _TIME, "error": _STR}},
}

_COMMON = {
    "400": openapi._error_response("Unknown parameter or field (`field` names it)."),
    "401": openapi._error_response("Missing, unknown or revoked token."),
    "403": openapi._error_response("The token owner's role may not use this route."),
    "422": openapi._error_response("An invalid value (`field` names it); nothing changed."),
}
_PORTAL = {"503": openapi._error_response("The portal did not answer; nothing was changed.")}


def _op(op_id: str, summary: str, schema: str | None, *, params: Any = (),
        body: str | None = None, portal: bool = False, media: str = "application/json"
        ) -> dict[str, Any]:
    content = ({media: {"schema": openapi._ref(schema)}} if schema
               else {media: {"schema": {"type": "string"}}})
    built: dict[str, Any] = {
        "operationId": op_id, "summary": summary, "security": [{"bearerAuth": []}],
        "parameters": [p.openapi() for p in params],
        "responses": {"200": {"description": "OK", "content": content}, **_COMMON,
                      **(_PORTAL if portal else {}), **(openapi.TOO_LARGE if body else {})}}
    if body:
        built["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": openapi._ref(body)}}}
    return built


def _plan_responses() -> dict[str, Any]:
    built = _op("postCadencePlanCall", "", "CadencePlannedCall", body="CadencePlanCall",
                portal=True)["responses"]
    built["201"] = built.pop("200")
    return built


PATHS: dict[str, Any] = {
    "/cadence/settings": {
        "get": _op("getCadenceSettings", "The cadence settings (administrators)",
                   "CadenceSettings"),
        "put": _op("putCadenceSettings", "Change the cadence settings (administrators)",
                   "CadenceSettings", body="CadenceSettings", portal=True)},
    "/cadence/resync": {
        "get": _op("getCadenceResync", "The full resync's progress", "CadenceResync"),
        "post": _op("postCadenceResync", "Run the full resync of the read model",
                    "CadenceResync", portal=True)},
    "/cadence/plan-call": {"post": {**_op("postCadencePlanCall", "Plan a call on a company "
                                          "for its responsible", "CadencePlannedCall",
                                          body="CadencePlanCall", portal=True),
                                    "responses": _plan_responses()}},
    "/cadence/report": {"get": _op("getCadenceReport", "Companies and when they are due "
                                   "for a contact", "CadenceReport", params=FILTERS + PAGING)},
    "/cadence/report.csv": {"get": _op("getCadenceReportCsv", "The report as CSV (every "
                                       "filtered row)", None, params=FILTERS,
                                       media="text/csv")},
    "/cadence/load": {"get": _op("getCadenceLoad", "Companies per responsible, per category "
                                 "and per state", "CadenceLoad", params=FILTERS)},
}

openapi.SCHEMAS.update(SCHEMAS)
openapi.EXTRA_PATHS.update(PATHS)

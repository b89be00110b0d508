"""Lead distribution's part of openapi.json (paths and schemas)."""

from __future__ import annotations

from typing import Any

from portal_ext.blueprints.api import openapi
from portal_ext.blueprints.api.params import ID_SCHEMA, path_id
from portal_ext.distribution import rules
from portal_ext.distribution.models import REPORT_STATES

_INT = {"type": "integer"}
_NULL_INT = {"type": ["integer", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_LINE = {"type": "object", "required": ["name", "department_id", "stage_id"], "properties": {
    "id": {**ID_SCHEMA, "description": "Keep this existing line (left out: a new line)."},
    "name": {"type": "string", "minLength": 1, "maxLength": 255},
    "department_id": {**ID_SCHEMA, "description": "The portal department serving the line."},
    "category_id": {"type": "integer", "minimum": 0, "description": "The deal pipeline "
                    "(crm.category.list); 0 the general one."},
    "stage_id": {"type": "string", "maxLength": 64, "description": "The first stage of its "
                 "deals: C<category>:<code>, or a plain code in pipeline 0."}},
    "additionalProperties": False}
_CANDIDATE = {"type": "object", "properties": {
    "user_id": _INT, "load": _INT, "picked_today": _INT,
    "skipped": {"type": ["string", "null"], "enum": [rules.ABSENT, rules.DISMISSED,
                                                     rules.QUOTA, None]},
    "absent_until": _TIME}}
_STRATEGY = {"type": "object", "required": ["strategy"], "properties": {
    "strategy": {"type": "string", "enum": list(rules.STRATEGIES)},
    "quota": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}},
    "additionalProperties": False}

SCHEMAS: dict[str, Any] = {
    "ServiceLine": {**_LINE, "required": ["id", "name", "department_id", "category_id",
                                          "stage_id"]},
    "ServiceLineList": {"type": "object", "required": ["lines"], "properties": {
        "lines": {"type": "array", "items": openapi._ref("ServiceLine")}}},
    "ServiceLinesInput": {"type": "object", "required": ["lines"], "properties": {
        "lines": {"type": "array", "items": _LINE, "description": "The whole list: lines "
                  "left out are removed, or retired when a report names them."}},
        "additionalProperties": False},
    "DistributionSettings": {"type": "object", "properties": {
        "default_strategy": {"type": "string", "enum": list(rules.STRATEGIES)},
        "default_quota": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
                          "description": "Deals per manager per day (null: no limit)."},
        "strategies": {"type": "object", "additionalProperties": _STRATEGY,
                       "description": "department id -> its own strategy and quota."},
        "main_strategy": {"type": "string", "enum": list(rules.MAIN_STRATEGIES)},
        "fallback_user_id": {"anyOf": [ID_SCHEMA, {"type": "null"}], "description":
                             "Takes a line when its department and head are unavailable."},
        "representative_ids": {"type": "array", "items": ID_SCHEMA,
                               "description": "The field representatives."},
        "control_task_days": {"type": "integer", "minimum": 1},
        "visit_tasks": {"type": "boolean", "description": "New leads get a visit task for a "
                        "field representative (leads created before are left alone)."},
        "visit_tasks_since": {"type": ["string", "null"], "readOnly": True},
        "visit_strategy": {"type": "string", "enum": list(rules.STRATEGIES)},
        "visit_title": {"type": "string", "minLength": 1, "maxLength": 200,
                        "description": "{lead} stands for the lead's title."},
        "visit_days": {"type": "integer", "minimum": 1,
                       "description": "The visit task's deadline in working days."}},
        "additionalProperties": False},
    "Decision": {"type": "object", "properties": {
        "department_id": _INT, "line_id": _INT, "strategy": {"type": "string"},
        "quota": _NULL_INT, "seed": _NULL_INT,
        "fallback": {"type": ["string", "null"], "description": "head | fallback: nobody in "
                     "the department was available."},
        "candidates": {"type": "array", "items": _CANDIDATE},
        "fallbacks": {"type": "array", "items": _CANDIDATE},
        "chosen_id": _NULL_INT, "report_id": _INT, "lead_id": _INT,
        "decided_at": {"type": "string"}}},
    "DecisionList": {"type": "object", "properties": {
        "items": {"type": "array", "items": openapi._ref("Decision")}}},
    "VisitReportInput": {"type": "object", "required": ["lead_id", "lines"], "properties": {
        "lead_id": ID_SCHEMA,
        "lines": {"type": "array", "minItems": 1, "items": ID_SCHEMA,
                  "description": "The service lines the client needs."},
        "comment": {"type": "string", "maxLength": 5000},
        "visited_at": {"type": ["string", "null"], "description": "ISO 8601."},
        "client": {"type": "object", "description": "The client as visited, prefilled from "
                   "the lead; a field left out keeps the lead's. A missing company or contact "
                   "is created from it.", "properties": {
                       "company": {"type": "string", "maxLength": 255},
                       "contact": {"type": "string", "maxLength": 255},
                       "phone": {"type": "string", "maxLength": 255},
                       "email": {"type": "string", "maxLength": 255}},
                   "additionalProperties": False}},
        "additionalProperties": False},
    "VisitReport": {"type": "object", "properties": {
        "id": _INT, "lead_id": _INT, "lines": {"type": "array", "items": _INT},
        "comment": {"type": "string"}, "visited_at": _TIME,
        "state": {"type": "string", "enum": list(REPORT_STATES)},
        "error": {"type": ["string", "null"]}, "author_id": _NULL_INT,
        "deals": {"type": "array", "items": {"type": "object", "properties": {
            "line_id": _INT, "deal_id": _INT}}},
        "main_manager_id": _NULL_INT, "control_task_id": _NULL_INT,
        "lead_converted": {"type": "boolean"},
        "client": {"type": ["object", "null"]}, "company_id": _NULL_INT,
        "contact_id": _NULL_INT,
        "decisions": {"type": "array", "items": openapi._ref("Decision")},
        "main_decision": {"type": "object"}, "created_at": {"type": "string"},
        "links": {"type": "object"}}},
}


def _errors(**extra: str) -> dict[str, Any]:
    base = {"400": "Not a JSON object, or an unknown field or parameter (`field`).",
            "401": "Missing, unknown or revoked token.",
            "403": "The token owner's role may not use this route.",
            "422": "Rejected (`field` names the input); nothing was changed.",
            **extra}
    return {code: openapi._error_response(text) for code, text in base.items()}


def _op(op_id: str, summary: str, status: str, schema: str, *, body: str | None = None,
        params: list[dict[str, Any]] | None = None, roles: str,
        errors: dict[str, str] | None = None) -> dict[str, Any]:
    built: dict[str, Any] = {
        "operationId": op_id, "summary": summary, "description": f"Roles: {roles}.",
        "security": [{"bearerAuth": []}], "parameters": params or [],
        "responses": {status: {"description": "OK", "content": {"application/json": {
            "schema": openapi._ref(schema)}}}, **_errors(**(errors or {})),
            **(openapi.TOO_LARGE if body else {})}}
    if body:
        built["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": openapi._ref(body)}}}
    return built


def _decision_params() -> list[dict[str, Any]]:
    from portal_ext.blueprints.distribution.api import DECISIONS_QUERY

    since = {"name": "since", "in": "query", "required": False,
             "description": "Decisions taken at or after this ISO 8601 time.",
             "schema": {"type": "string", "format": "date-time"}}
    return [p.openapi() for p in DECISIONS_QUERY] + [since]


_REPORT = {"200": {"description": "The lead already has a report: the first one.",
                   "content": {"application/json": {"schema": openapi._ref("VisitReport")}}}}

PATHS: dict[str, Any] = {
    "/service-lines": {
        "get": _op("listServiceLines", "The service lines", "200", "ServiceLineList",
                   roles="admin"),
        "put": _op("replaceServiceLines", "Replace the service lines", "200",
                   "ServiceLineList", body="ServiceLinesInput", roles="admin",
                   errors={"503": "The portal did not answer; nothing was changed."})},
    "/distribution/settings": {
        "get": _op("getDistributionSettings", "Distribution settings", "200",
                   "DistributionSettings", roles="admin"),
        "put": _op("putDistributionSettings", "Change distribution settings (the fields "
                   "sent)", "200", "DistributionSettings", body="DistributionSettings",
                   roles="admin")},
    "/distribution/decisions": {
        "get": _op("listDistributionDecisions", "Decisions taken, newest first", "200",
                   "DecisionList", params=_decision_params(), roles="admin, head")},
    "/visit-reports": {
        "post": _op("createVisitReport", "File a visit report: its deals, control task and "
                    "conversion are queued", "202", "VisitReport", body="VisitReportInput",
                    roles="admin, head, field representative",
                    errors={"404": "No such lead.",
                            "409": "The lead was converted by other means.",
                            "503": "The portal did not answer; nothing was changed."})},
    "/visit-reports/{report_id}": {
        "get": _op("getVisitReport", "A visit report: state, deals, main manager, control "
                   "task, decisions", "200", "VisitReport",
                   params=[path_id("report_id", "A visit report's id.")],
                   roles="admin, head, its author", errors={"404": "No such visit report."})},
}
PATHS["/visit-reports"]["post"]["responses"].update(_REPORT)

openapi.SCHEMAS.update(SCHEMAS)
openapi.EXTRA_PATHS.update(PATHS)

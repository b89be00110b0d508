"""The deadline guard's part of openapi.json: query parameters (parsed by the routes from these
same declarations), schemas and paths, added to the API's document (blueprints.api.openapi)."""

from __future__ import annotations

from typing import Any

from portal_ext.blueprints.api import openapi
from portal_ext.blueprints.api.params import ID_SCHEMA, QueryParam, id_param, path_id
from portal_ext.deadlines.models import OUTCOMES, REQUEST_STATES
from portal_ext.deadlines.rules import MODES

REQUESTS_QUERY: tuple[QueryParam, ...] = (
    QueryParam("state", "string", "Only requests in this state.", enum=REQUEST_STATES),
    id_param("user", "Only requests made by this portal user."),
    id_param("task", "Only requests about this portal task."),
)
CHANGES_QUERY: tuple[QueryParam, ...] = (
    id_param("user", "Only changes made by this portal user."),
    id_param("department", "Only changes of tasks whose responsible is in this portal "
             "department."),
    QueryParam("since", "date-time", "Only changes recorded at or after this time (ISO 8601; "
               "without an offset it is UTC)."),
    QueryParam("until", "date-time", "Only changes recorded before this time."),
)
REPORT_QUERY: tuple[QueryParam, ...] = (
    id_param("department", "Only managers of this portal department."),
    QueryParam("since", "date-time", "Only changes recorded at or after this time."),
    QueryParam("until", "date-time", "Only changes recorded before this time."),
)

_TIME = {"type": ["string", "null"], "format": "date-time"}
_LIMIT = {"type": ["integer", "null"], "minimum": 0, "maximum": 10000}
_POLICY_PROPS: dict[str, Any] = {
    "mode": {"type": "string", "enum": list(MODES)},
    "max_postponements": {**_LIMIT, "description": "At most N postponements per task; beyond "
                          "it a change needs approval. null: no limit."},
    "max_delay_days": {**_LIMIT, "description": "At most D days past the original deadline; "
                       "beyond it a change needs approval. null: no limit."},
    "exempt_heads": {"type": "boolean", "description": "The responsible's heads move the "
                     "deadline freely (default true)."},
}
SCHEMAS: dict[str, Any] = {
    "DeadlinePolicy": {"type": "object", "properties": {
        **_POLICY_PROPS, "scope": {"type": "string", "enum": ["default", "department", "robots"]},
        "department_id": {"type": ["integer", "null"]},
        "department_name": {"type": "string"},
        "updated_by": {"type": ["integer", "null"]}, "updated_at": _TIME}},
    "DeadlinePolicyInput": {"type": "object", "additionalProperties": False,
                            "required": ["mode"], "properties": _POLICY_PROPS},
    "DeadlinePolicies": {"type": "object", "properties": {
        "default": openapi._ref("DeadlinePolicy"), "robots": openapi._ref("DeadlinePolicy"),
        "departments": {"type": "array", "items": openapi._ref("DeadlinePolicy")}}},
    "DeadlineRequest": {"type": "object", "properties": {
        "id": {"type": "integer"}, "task_id": {"type": "integer"},
        "task_title": {"type": "string"}, "requester_id": {"type": "integer"},
        "responsible_id": {"type": "integer"}, "old_deadline": _TIME,
        "new_deadline": {"type": "string", "format": "date-time"},
        "reason": {"type": "string"}, "state": {"type": "string", "enum": list(REQUEST_STATES)},
        "approver_ids": {"type": "array", "items": {"type": "integer"}},
        "decided_by": {"type": ["integer", "null"]},
        "decision_reason": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]},
        "created_at": _TIME, "decided_at": _TIME,
        "escalated_at": {**_TIME, "description": "When it last passed to the next head."}}},
    "DeadlineRequestInput": {"type": "object", "additionalProperties": False,
                             "required": ["task_id", "new_deadline", "reason"], "properties": {
        "task_id": ID_SCHEMA,
        "new_deadline": {"type": "string", "format": "date-time",
                         "description": "ISO 8601; without an offset: the portal's time zone."},
        "reason": {"type": "string", "minLength": 10, "maxLength": 2000}}},
    "DeadlineDecisionInput": {"type": "object", "additionalProperties": False, "properties": {
        "reason": {"type": "string", "maxLength": 2000,
                   "description": "Required to decline (at least 10 characters)."}}},
    "DeadlineRequestList": {"type": "object", "properties": {
        "items": {"type": "array", "items": openapi._ref("DeadlineRequest")},
        "total": {"type": "integer"}}},
    "DeadlineChange": {"type": "object", "properties": {
        "id": {"type": "integer"}, "task_id": {"type": "integer"},
        "user_id": {"type": ["integer", "null"]}, "responsible_id": {"type": ["integer", "null"]},
        "old_deadline": _TIME, "new_deadline": _TIME, "reason": {"type": ["string", "null"]},
        "approver_id": {"type": ["integer", "null"]},
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "postponement_no": {"type": ["integer", "null"]},
        "request_id": {"type": ["integer", "null"]}, "at": _TIME,
        "latency_ms": {"type": ["integer", "null"],
                       "description": "A revert over REST: milliseconds from the portal's "
                                      "event to the deadline put back."}}},
    "PostponementLine": {"type": "object", "properties": {
        "user_id": {"type": "integer"}, "name": {"type": "string"},
        "tasks": {"type": "integer"}, "postponements": {"type": "integer"},
        "delay_days": {"type": "number"}, "share_without_reason": {"type": "number"},
        "stopped_attempts": {"type": "integer", "description": "Vetoed or reverted."},
        "by_outcome": {"type": "object", "additionalProperties": {"type": "integer"}},
        "overdue_now": {"type": ["integer", "null"], "description": "The manager's open tasks "
                        "(new, pending, in progress) whose deadline is before now, read from "
                        "the portal with the report; null when the portal could not be read. "
                        "Not limited by since/until."}}},
    "PostponementReport": {"type": "object", "properties": {
        "items": {"type": "array", "items": openapi._ref("PostponementLine")},
        "total": {"type": "integer"}}},
    "DeadlineChangeList": {"type": "object", "properties": {
        "items": {"type": "array", "items": openapi._ref("DeadlineChange")},
        "total": {"type": "integer"}}},
}

_ERRORS = {
    "400": openapi._error_response("Not a JSON object, or an unknown field or parameter "
                                   "(`field`)."),
    "401": openapi._error_response("Missing, unknown or revoked token."),
    "403": openapi._error_response("The caller's role may not do this."),
    "422": openapi._error_response("Rejected (code `validation`; `field` names the input); "
                                   "nothing was saved."),
}
_TOO_LARGE = {"413": openapi._error_response("The body is larger than the API accepts.")}
_DEPARTMENT = path_id("department_id", "A portal department's id.")
_REQUEST = path_id("request_id", "A deadline request's id.")


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


_CONFLICT = {"409": openapi._error_response("The request is no longer pending.")}
PATHS: dict[str, Any] = {
    "/deadline-policies": {"get": _op(
        "listDeadlinePolicies", "The deadline policies", {"200": _json("DeadlinePolicies")},
        roles="admin; head (the departments they oversee)")},
    "/deadline-policies/default": {"put": _op(
        "setDefaultDeadlinePolicy", "Set the portal-wide policy",
        {"200": _json("DeadlinePolicy")}, roles="admin", body="DeadlinePolicyInput")},
    "/deadline-policies/robots": {"put": _op(
        "setRobotsDeadlinePolicy", "Set the policy of tasks made by stage robots",
        {"200": _json("DeadlinePolicy")}, roles="admin", body="DeadlinePolicyInput")},
    "/deadline-policies/departments/{department_id}": {
        "put": _op("setDepartmentDeadlinePolicy", "Set a department's own policy",
                   {"200": _json("DeadlinePolicy")}, roles="admin", body="DeadlinePolicyInput",
                   path=(_DEPARTMENT,)),
        "delete": _op("deleteDepartmentDeadlinePolicy", "Drop a department's own policy",
                      {"204": {"description": "Deleted."}}, roles="admin",
                      path=(_DEPARTMENT,)),
    },
    "/deadline-requests": {
        "get": _op("listDeadlineRequests", "Deadline requests, newest first",
                   {"200": _json("DeadlineRequestList")},
                   roles="everyone (admin all; others their people's and those they decide)",
                   query=REQUESTS_QUERY),
        "post": _op("createDeadlineRequest", "Request a deadline change",
                    {"201": _json("DeadlineRequest", "Created: applied, or pending approval."),
                     "404": openapi._error_response("No such task (`field` is task_id).")},
                    roles="the task's responsible, accomplices, creator or heads",
                    body="DeadlineRequestInput"),
    },
    "/deadline-requests/{request_id}/approve": {"post": _op(
        "approveDeadlineRequest", "Approve a pending request (the deadline moves)",
        {"200": _json("DeadlineRequest"), **_CONFLICT}, roles="the request's approvers, admin",
        body="DeadlineDecisionInput", path=(_REQUEST,))},
    "/deadline-requests/{request_id}/decline": {"post": _op(
        "declineDeadlineRequest", "Decline a pending request with a reason",
        {"200": _json("DeadlineRequest"), **_CONFLICT}, roles="the request's approvers, admin",
        body="DeadlineDecisionInput", path=(_REQUEST,))},
    "/deadline-changes": {"get": _op(
        "listDeadlineChanges", "The audit of deadline changes, newest first",
        {"200": _json("DeadlineChangeList")},
        roles="everyone (admin all; heads their departments; others their own)",
        query=CHANGES_QUERY)},
    "/reports/postponements": {"get": _op(
        "postponementReport", "Postponements per manager", {"200": _json("PostponementReport")},
        roles="everyone (admin all; heads their departments; others their own line)",
        query=REPORT_QUERY)},
}

openapi.SCHEMAS.update(SCHEMAS)
openapi.EXTRA_PATHS.update(PATHS)

"""``/api/v1/deadline-policies``, ``/deadline-requests`` and ``/deadline-changes`` on the API
blueprint (bearer tokens; the API's error shape ``{"error": {"code", "message", "field"}}``;
a refusal names the field and changes nothing)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from portal_ext.auth.api_auth import ApiError, api_auth, current_api_user
from portal_ext.blueprints.api import bp
from portal_ext.blueprints.api.params import body_id, json_object, parse_query
from portal_ext.blueprints.deadlines.api_docs import CHANGES_QUERY, REPORT_QUERY, REQUESTS_QUERY
from portal_ext.context import here
from portal_ext.deadlines import services
from portal_ext.deadlines.models import DEFAULT, DEPARTMENT, ROBOTS
from portal_ext.portal.registration import current_portal
from portal_ext.request_bounds import MAX_ID


@bp.get("/deadline-policies")
@api_auth("admin", "head")
def list_deadline_policies() -> Any:
    return jsonify(services.policies_json(current_portal(), current_api_user()))


def _put_policy(scope: str, department_id: int = 0) -> Any:
    body = json_object(services.POLICY_FIELDS)
    row = services.set_policy(here(), scope, body, department_id=department_id)
    return jsonify(services.policy_json(row))


@bp.put("/deadline-policies/default")
@api_auth("admin")
def set_default_deadline_policy() -> Any:
    return _put_policy(DEFAULT)


@bp.put("/deadline-policies/robots")
@api_auth("admin")
def set_robots_deadline_policy() -> Any:
    return _put_policy(ROBOTS)


def _department(department_id: int) -> int:
    if not 0 < department_id <= MAX_ID:
        raise ApiError(404, "not_found", f"There is no department {department_id}.",
                       "department_id")
    return department_id


@bp.put("/deadline-policies/departments/<int:department_id>")
@api_auth("admin")
def set_department_deadline_policy(department_id: int) -> Any:
    return _put_policy(DEPARTMENT, _department(department_id))


@bp.delete("/deadline-policies/departments/<int:department_id>")
@api_auth("admin")
def delete_department_deadline_policy(department_id: int) -> Any:
    services.delete_department_policy(here(), _department(department_id))
    return "", 204


@bp.post("/deadline-requests")
@api_auth()
def create_deadline_request() -> Any:
    body = json_object(("task_id", "new_deadline", "reason"))
    for name in ("task_id", "new_deadline", "reason"):
        if name not in body:
            raise ApiError(422, "validation", f"'{name}' is required.", name)
    task_id = body_id(body["task_id"], "task_id", what="a task id")
    created = services.create_request(here(), task_id=task_id,
                                      new_deadline=body["new_deadline"], reason=body["reason"])
    response = jsonify(services.request_json(created))
    response.status_code = 201
    return response


@bp.get("/deadline-requests")
@api_auth()
def list_deadline_requests() -> Any:
    query = parse_query(REQUESTS_QUERY, request.args)
    rows = services.list_requests(current_portal(), current_api_user(), state=query["state"],
                                  user=query["user"], task=query["task"])
    return jsonify({"items": [services.request_json(r) for r in rows], "total": len(rows)})


def _request(request_id: int) -> Any:
    if not 0 < request_id <= MAX_ID:
        raise ApiError(404, "not_found", f"There is no deadline request {request_id}.")
    found = services.get_request(current_portal(), request_id)
    if not services.may_see_request(current_portal(), current_api_user(), found):
        raise ApiError(404, "not_found", f"There is no deadline request {request_id}.")
    return found


def _decision_reason() -> Any:
    if not request.get_data(cache=True):
        return None
    return json_object(("reason",)).get("reason")


@bp.post("/deadline-requests/<int:request_id>/approve")
@api_auth()
def approve_deadline_request(request_id: int) -> Any:
    found = _request(request_id)
    _decision_reason()
    return jsonify(services.request_json(services.approve_request(here(), found)))


@bp.post("/deadline-requests/<int:request_id>/decline")
@api_auth()
def decline_deadline_request(request_id: int) -> Any:
    found = _request(request_id)
    reason = _decision_reason()
    return jsonify(services.request_json(services.decline_request(here(), found, reason)))


@bp.get("/deadline-changes")
@api_auth()
def list_deadline_changes() -> Any:
    query = parse_query(CHANGES_QUERY, request.args)
    rows = services.list_changes(current_portal(), current_api_user(), user=query["user"],
                                 department=query["department"], since=query["since"],
                                 until=query["until"])
    return jsonify({"items": [services.change_json(r) for r in rows], "total": len(rows)})


@bp.get("/reports/postponements")
@api_auth()
def postponement_report() -> Any:
    query = parse_query(REPORT_QUERY, request.args)
    lines = services.postponement_report(here(), current_api_user(),
                                         department=query["department"], since=query["since"],
                                         until=query["until"])
    return jsonify({"items": [line.as_dict() for line in lines], "total": len(lines)})

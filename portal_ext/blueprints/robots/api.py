"""``/api/v1/stage-robots`` on the API blueprint (bearer tokens; the API's error shape
``{"error": {"code", "message", "field"}}``; a refusal names the field and changes nothing).
Administrators write; heads read."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_babel import get_locale

from portal_ext.auth.api_auth import ApiError, api_auth
from portal_ext.blueprints.api import bp
from portal_ext.blueprints.api.params import body_id, json_object, parse_query
from portal_ext.blueprints.robots.api_docs import RUNS_QUERY
from portal_ext.context import here
from portal_ext.portal.registration import current_portal
from portal_ext.request_bounds import MAX_ID
from portal_ext.robots import services
from portal_ext.robots.models import StageRobot


def _robot(robot_id: int) -> StageRobot:
    if not 0 < robot_id <= MAX_ID:
        raise ApiError(404, "not_found", f"There is no stage robot {robot_id}.")
    return services.get_robot(current_portal(), robot_id)


@bp.get("/stage-robots")
@api_auth("admin", "head")
def list_stage_robots() -> Any:
    rows = services.list_robots(current_portal())
    return jsonify({"items": [services.robot_json(r) for r in rows], "total": len(rows)})


@bp.post("/stage-robots")
@api_auth("admin")
def create_stage_robot() -> Any:
    body = json_object(services.FIELDS)
    robot = services.create_robot(here(), body)
    response = jsonify(services.robot_json(robot))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/stage-robots/{robot.id}"
    return response


@bp.get("/stage-robots/<int:robot_id>")
@api_auth("admin", "head")
def get_stage_robot(robot_id: int) -> Any:
    robot = _robot(robot_id)
    return jsonify({**services.robot_json(robot),
                    "versions": [services.version_json(v) for v in services.versions(robot)]})


@bp.patch("/stage-robots/<int:robot_id>")
@api_auth("admin")
def update_stage_robot(robot_id: int) -> Any:
    body = json_object((*services.FIELDS, "revert_to"))
    robot = _robot(robot_id)
    if "revert_to" in body:
        if len(body) > 1:
            raise ApiError(422, "validation", "'revert_to' goes alone.", "revert_to")
        version = body_id(body["revert_to"], "revert_to", what="a version number")
        return jsonify(services.robot_json(services.revert_robot(here(), robot, version)))
    return jsonify(services.robot_json(services.update_robot(here(), robot, body)))


@bp.delete("/stage-robots/<int:robot_id>")
@api_auth("admin")
def delete_stage_robot(robot_id: int) -> Any:
    services.delete_robot(here(), _robot(robot_id))
    return "", 204


@bp.post("/stage-robots/<int:robot_id>/preview")
@api_auth("admin", "head")
def preview_stage_robot(robot_id: int) -> Any:
    body = json_object(("item_id",))
    if "item_id" not in body:
        raise ApiError(422, "validation", "'item_id' is required.", "item_id")
    item_id = body_id(body["item_id"], "item_id", what="a lead or deal id")
    return jsonify(services.preview(here(), _robot(robot_id), item_id,
                                    language=str(get_locale())))


@bp.get("/stage-robots/runs")
@api_auth("admin", "head")
def list_stage_robot_runs() -> Any:
    query = parse_query(RUNS_QUERY, request.args)
    rows = services.list_runs(current_portal(), robot=query["robot"], item=query["item"],
                              entity=query["entity"])
    return jsonify({"items": [services.run_json(r) for r in rows], "total": len(rows)})

"""``/api/v1/teams`` and ``/api/v1/deliveries`` on the API blueprint (bearer tokens, the
API's error shape ``{"error": {"code", "message", "field"}}``, paging as ``/users``).

A team is ``{"name", "kinds", "members"}`` with members as portal user ids; a rejected team is
422 ``validation`` naming the field and saves nothing. Messages are in English.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for

from portal_ext.auth.api_auth import ApiError, api_auth, current_api_user
from portal_ext.blueprints.api import bp
from portal_ext.blueprints.api.params import body_id, json_object, parse_query
from portal_ext.blueprints.notifications.api_docs import DELIVERIES_QUERY
from portal_ext.context import here
from portal_ext.notifications import teams as team_service
from portal_ext.notifications.log import LogFilter, delivery_json, delivery_log
from portal_ext.notifications.models import Team
from portal_ext.portal.registration import current_portal

TEAM_FIELDS = ("name", "kinds", "members")


def _body(*, required: bool) -> dict[str, Any]:
    body = json_object(TEAM_FIELDS)
    members = body.get("members")
    if isinstance(members, list):
        for member in members:
            body_id(member, "members", what="a list of portal user ids")
    if required:
        for name in TEAM_FIELDS:
            if name not in body:
                raise ApiError(422, "validation", f"'{name}' is required.", name)
    return body


def _team(team_id: int) -> Team:
    team = team_service.get_team(current_portal(), team_id)
    if team is None:
        raise ApiError(404, "not_found", f"There is no team {team_id}.")
    return team


@bp.get("/teams")
@api_auth()
def list_teams() -> Any:
    teams = team_service.list_teams(current_portal())
    return jsonify({"items": [team_service.team_json(t) for t in teams], "total": len(teams)})


@bp.post("/teams")
@api_auth("admin")
def create_team() -> Any:
    body = _body(required=True)
    h = here()
    team = team_service.create_team(portal=h.portal, actor=h.actor, now=h.now, **body)
    response = jsonify(team_service.team_json(team))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_team", team_id=team.id)
    return response


@bp.get("/teams/<int:team_id>")
@api_auth()
def get_team(team_id: int) -> Any:
    return jsonify(team_service.team_json(_team(team_id)))


@bp.patch("/teams/<int:team_id>")
@api_auth("admin")
def update_team(team_id: int) -> Any:
    team = _team(team_id)
    body = _body(required=False)
    h = here()
    team_service.update_team(portal=h.portal, actor=h.actor, team=team, now=h.now, **body)
    return jsonify(team_service.team_json(team))


@bp.delete("/teams/<int:team_id>")
@api_auth("admin")
def delete_team(team_id: int) -> Any:
    team_service.delete_team(portal=current_portal(), actor=current_api_user(),
                             team=_team(team_id))
    return "", 204


@bp.get("/deliveries")
@api_auth()
def list_deliveries() -> Any:
    """The delivery log, newest first."""
    query = parse_query(DELIVERIES_QUERY, request.args)
    page = delivery_log(portal=current_portal(), viewer=current_api_user(),
                        filters=LogFilter(user=query["user"], reason=query["reason"],
                                          state=query["state"], since=query["since"],
                                          until=query["until"]),
                        page=query["page"], per_page=query["per_page"])
    return jsonify({"items": [delivery_json(d) for d in page.items], "page": page.page,
                    "per_page": page.per_page, "total": page.total, "pages": page.pages})

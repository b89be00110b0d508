"""``/api/v1`` routes. Each declares its query parameters once (params.QueryParam); the
same declarations are published in openapi.json."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from portal_ext.auth.api_auth import api_auth, current_api_user
from portal_ext.auth.roles import ROLES
from portal_ext.blueprints import listings
from portal_ext.blueprints.api import bp
from portal_ext.blueprints.api.openapi import build_document
from portal_ext.blueprints.api.params import PAGING, QueryParam, id_param, parse_query
from portal_ext.directory import access
from portal_ext.events.models import STATES
from portal_ext.paging import Page
from portal_ext.portal.registration import current_portal

USERS_QUERY: tuple[QueryParam, ...] = (
    QueryParam("active", "boolean", "true: only active users; false: only dismissed ones."),
    id_param("department", "Only members of this portal department (its id)."),
    QueryParam("role", "string", "Only users with this role.", enum=ROLES),
    *PAGING,
)

EVENTS_QUERY: tuple[QueryParam, ...] = (
    QueryParam("state", "string", "Only events in this processing state.", enum=STATES),
    QueryParam("event", "string", "Only this portal event, e.g. ONCRMDEALUPDATE "
               "(case-insensitive)."),
    QueryParam("since", "date-time", "Only events received at or after this time "
               "(ISO 8601; without an offset it is UTC)."),
    *PAGING,
)


def _page_body(page: Page[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items, "page": page.page, "per_page": page.per_page,
            "total": page.total, "pages": page.pages}


@bp.get("/users")
@api_auth("admin", "head")
def list_users() -> Any:
    """Synced portal users the caller may see (heads: their departments)."""
    query = parse_query(USERS_QUERY, request.args)
    page = access.visible_users(portal=current_portal(), viewer=current_api_user(),
                                active=query["active"], department=query["department"],
                                role=query["role"], page=query["page"],
                                per_page=query["per_page"])
    roles = page.extra["roles"]
    return jsonify(_page_body(page, [listings.user_json(u, roles[u.id]) for u in page.items]))


@bp.get("/events")
@api_auth("admin")
def list_events() -> Any:
    """The event inbox, newest first."""
    query = parse_query(EVENTS_QUERY, request.args)
    page = listings.inbox_events(portal=current_portal(), state=query["state"],
                                 event=query["event"], since=query["since"],
                                 page=query["page"], per_page=query["per_page"])
    return jsonify(_page_body(page, [listings.event_json(e) for e in page.items]))


@bp.get("/openapi.json")
def openapi() -> Any:
    """The API's description (public: it holds no data)."""
    return jsonify(build_document(server_url=request.url_root.rstrip("/")))

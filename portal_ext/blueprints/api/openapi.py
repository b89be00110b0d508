"""The OpenAPI 3.1 description of ``/api/v1``, kept by hand next to the routes.

Query parameters come from the routes' own declarations (views.USERS_QUERY, EVENTS_QUERY), so
they cannot drift; paths, schemas and responses are written here. Domain packages that add
routes to the API blueprint add their paths to ``EXTRA_PATHS`` and their schemas to
``SCHEMAS``. tests/ext/test_api.py checks that every registered ``/api/v1`` rule is described.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

API_VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


def operation_maker(schema: str, input_schema: str, errors: dict[str, Any],
                    id_param: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """An operation builder for a resource's routes (handovers, transfers): each answers
    ``schema``, may take ``input_schema`` as its body, and on a path with ``id_param``."""

    def operation(op_id: str, summary: str, status: str, *, body: bool = False,
                  path: bool = True) -> dict[str, Any]:
        built: dict[str, Any] = {
            "operationId": op_id, "summary": summary, "security": [{"bearerAuth": []}],
            "parameters": [id_param] if path else [],
            "responses": {status: {"description": "OK", "content": {"application/json": {
                "schema": _ref(schema)}}}, **errors, **(TOO_LARGE if body else {})}}
        if body:
            built["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _ref(input_schema)}}}
        return built

    return operation


TOO_LARGE = {"413": _error_response("The body is larger than the API accepts.")}
_ERRORS = {
    "400": _error_response("Unknown query parameter (`field` names it)."),
    "401": _error_response("Missing, unknown or revoked token."),
    "403": _error_response("The token owner's role may not use this route."),
    "422": _error_response("A query parameter has an invalid value (`field` names it)."),
}


def _page_of(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0},
            "pages": {"type": "integer", "minimum": 1},
        },
    }


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_parameter"]},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
                "errors": {"type": "array", "description": (
                    "Present when several fields are bad at once: every one of them (the "
                    "first is also given above)."),
                    "items": {"type": "object", "required": ["code", "message", "field"],
                              "properties": {"code": {"type": "string"},
                                             "message": {"type": "string"},
                                             "field": {"type": ["string", "null"]}}}},
            },
        }},
    },
    "User": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "description": "The portal's user id."},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "last_name": {"type": "string"},
            "full_name": {"type": "string"},
            "work_position": {"type": "string"},
            "active": {"type": "boolean", "description": "false once dismissed."},
            "role": {"type": "string", "enum": ["admin", "head", "employee"]},
            "department_ids": {"type": "array", "items": {"type": "integer"}},
            "synced_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Event": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "event": {"type": "string", "examples": ["ONCRMDEALUPDATE"]},
            "source": {"type": "string", "enum": ["inprocess", "webhook", "offline"]},
            "entity_type": {"type": ["string", "null"]},
            "entity_id": {"type": ["integer", "null"]},
            "state": {"type": "string",
                      "enum": ["pending", "processing", "done", "failed"]},
            "attempts": {"type": "integer"},
            "received_at": {"type": "string", "format": "date-time"},
            "processed_at": {"type": ["string", "null"], "format": "date-time"},
            "error": {"type": ["string", "null"]},
            "payload": {"type": "object"},
        },
    },
    "UserPage": _page_of("User"),
    "EventPage": _page_of("Event"),
}


def _operation(*, operation_id: str, summary: str, description: str, params: Any,
               schema: str, roles: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": f"{description} Roles: {roles}.",
        "parameters": [p.openapi() for p in params],
        "security": [{"bearerAuth": []}],
        "responses": {"200": {"description": "A page of results.",
                              "content": {"application/json": {"schema": _ref(schema)}}},
                      **_ERRORS},
    }


# Domain modules add their routes' paths here (and their schemas to SCHEMAS) when imported,
# e.g. portal_ext.blueprints.absences.api_docs.
EXTRA_PATHS: dict[str, Any] = {}


def build_document(*, server_url: str) -> dict[str, Any]:
    from portal_ext.blueprints.api.views import EVENTS_QUERY, USERS_QUERY

    return {
        "openapi": "3.1.0",
        "info": {"title": "Portal extension API", "version": API_VERSION,
                 "description": "The extension's view of the portal and its own records. "
                                "Authenticate with an API token: "
                                "'Authorization: Bearer <token>'."},
        "servers": [{"url": f"{server_url}/api/v1"}],
        "paths": {
            "/users": {"get": _operation(
                operation_id="listUsers", summary="Synced portal users",
                description="Users as last synced from the portal; a department head sees the "
                            "people of the departments they head.",
                params=USERS_QUERY, schema="UserPage", roles="admin, head")},
            "/events": {"get": _operation(
                operation_id="listEvents", summary="The event inbox",
                description="Portal events the extension received, newest first.",
                params=EVENTS_QUERY, schema="EventPage", roles="admin")},
            "/openapi.json": {"get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                                      "content": {"application/json": {
                                          "schema": {"type": "object"}}}}},
            }},
            **EXTRA_PATHS,
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An API token issued on the "
                                                              "Tokens page or by "
                                                              "'flask token create EMAIL'."}},
        },
        "security": [{"bearerAuth": []}],
    }

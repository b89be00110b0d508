"""Error pages: HTML for people, the API's JSON shape under /api/."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

from portal_ext.auth.api_auth import ApiError

API_PREFIX = "/api/"


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("errors/error.html", title=title, message=message), status


def _page_texts(status: int) -> tuple[str, str]:
    texts = {
        400: (_("Bad request"), _("The request could not be understood.")),
        403: (_("Access denied"), _("Your role does not allow you to open this page.")),
        404: (_("Not found"), _("There is no such page.")),
        405: (_("Not allowed"), _("This page cannot be used this way.")),
    }
    return texts.get(status, (_("Something went wrong"), _("Please try again later.")))


def handle_http_error(error: HTTPException) -> Any:
    status = error.code or 500
    if request.path.startswith(API_PREFIX):
        code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 415: "unsupported_media_type",
                422: "invalid_parameter"}.get(status, "error")
        return ApiError(status, code, error.description or error.name).body(), status
    if status == 400 and "CSRF" in (error.description or ""):
        return error_page(400, _("The form has expired"),
                          _("Please go back, reload the page and try again."))
    title, message = _page_texts(status)
    return error_page(status, title, message)


def handle_api_error(error: ApiError) -> Any:
    response = jsonify(error.body())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def handle_server_error(error: InternalServerError) -> Any:
    """An unexpected failure: the API still answers in its own shape (the traceback is
    logged by Flask); pages keep the server's plain error page."""
    if request.path.startswith(API_PREFIX):
        return ApiError(500, "internal_error", "Something went wrong on the server.").body(), 500
    return error


def init_app(app: Flask) -> None:
    for status in (400, 403, 404, 405, 415):
        app.register_error_handler(status, handle_http_error)
    app.register_error_handler(InternalServerError, handle_server_error)
    app.register_error_handler(ApiError, handle_api_error)

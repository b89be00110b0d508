"""The JSON API, ``/api/v1/``: bearer-token authentication (portal_ext.auth.api_auth), JSON
errors ``{"error": {"code", "message", "field"}}``, described by ``/api/v1/openapi.json``.
Messages are in English; ``code`` is the stable part to program against."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal_ext.blueprints.api import views  # noqa: E402,F401

"""The JSON API, ``/api/v1/``: bearer-token authentication (portal_ext.auth.api_auth), JSON
errors ``{"error": {"code", "message", "field"}}``, described by ``/api/v1/openapi.json``.
Messages are in English; ``code`` is the stable part to program against. A domain's refusal
(portal_ext.errors.Refusal) is answered in one place (portal_ext.blueprints.api.refusals)."""

from __future__ import annotations

from flask import Blueprint

from portal_ext.blueprints.api.refusals import answer_refusal
from portal_ext.errors import Refusal

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.register_error_handler(Refusal, answer_refusal)

from portal_ext.blueprints.api import views  # noqa: E402,F401

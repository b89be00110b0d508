"""Logging in with the portal's OAuth, and logging out."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from portal_ext.blueprints.auth import views  # noqa: E402,F401

"""The contact cadence on the web: the report page (views) and ``/api/v1/cadence`` on the API
blueprint (api, api_docs)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from portal_ext import navigation

bp = Blueprint("cadence", __name__, url_prefix="/cadence")

navigation.register("cadence.report", _l("Contact cadence"),
                    roles=("admin", "head", "employee"), order=60)
navigation.register("cadence.settings", _l("Cadence settings"), roles=("admin",), order=61)

from portal_ext.blueprints.cadence import api, api_docs, forms, views  # noqa: E402,F401

"""Lead distribution on the web: ``/api/v1/service-lines``, ``/api/v1/distribution/*`` and
``/api/v1/visit-reports`` on the API blueprint (api), and the pages (views)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from portal_ext import navigation

bp = Blueprint("distribution", __name__, url_prefix="/distribution")

# Field representatives reach the form from their visit task's link.
navigation.register("distribution.new_report", _l("Visit report"), roles=("admin", "head"),
                    order=60)
navigation.register("distribution.report", _l("Distribution report"), roles=("admin", "head"),
                    order=62)
navigation.register("distribution.settings", _l("Distribution settings"), roles=("admin",),
                    order=61)

from portal_ext.blueprints.distribution import api, api_docs, views  # noqa: E402,F401

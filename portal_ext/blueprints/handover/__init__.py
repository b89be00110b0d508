"""Handovers on the web: from an absence, a preview with counts per type and a sample, an
explicit confirmation, a live progress page, the report with links, the portal-wide policy
(views); ``/api/v1/handovers`` on the API blueprint (api)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from portal_ext import navigation

bp = Blueprint("handover", __name__, url_prefix="/handovers")

navigation.register("handover.index", _l("Handovers"), roles=("admin", "head"), order=50)

from portal_ext.blueprints.handover import api, api_docs, views  # noqa: E402,F401

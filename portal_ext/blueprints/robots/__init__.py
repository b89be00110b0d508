"""Stage robots on the web: ``/api/v1/stage-robots`` on the API blueprint (api) and the pages
(views): the robots' grid, the editor with its live preview and versions, the runs."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from portal_ext import navigation

bp = Blueprint("robots", __name__, url_prefix="/robots")

navigation.register("robots.index", _l("Stage robots"), roles=("admin", "head"), order=75,
                    group="deadlines")
navigation.register("robots.runs", _l("Robot runs"), roles=("admin", "head"), order=76,
                    group="deadlines")

from portal_ext.blueprints.robots import api, api_docs, views  # noqa: E402,F401

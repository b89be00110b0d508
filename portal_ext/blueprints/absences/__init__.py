"""Absences on the web: the department calendar, the absence form, "my absences", standing
deputies and the deputy's cover page (views), and ``/api/v1/absences`` and
``/api/v1/deputies`` on the API blueprint (api)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from portal_ext import navigation

bp = Blueprint("absences", __name__, url_prefix="/absences")

navigation.register("absences.calendar", _l("Calendar"), order=40)
navigation.register("absences.mine", _l("My absences"), order=41)
navigation.register("absences.covering", _l("I cover"), order=42)
navigation.register("absences.deputies", _l("Standing deputies"), order=43)

from portal_ext.blueprints.absences import api, deputies, views  # noqa: E402,F401

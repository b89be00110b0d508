"""Notification fan-out on the web: teams (list, form) and the delivery log (views), and
``/api/v1/teams`` and ``/api/v1/deliveries`` on the API blueprint (api)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from portal_ext import navigation

bp = Blueprint("notifications", __name__)

navigation.register("notifications.teams", _l("Teams"), order=50)
navigation.register("notifications.deliveries", _l("Deliveries"), order=60)

from portal_ext.blueprints.notifications import api, views  # noqa: E402,F401

"""The deadline guard on the web: the policies page, the request form and a request's page
(views), and ``/api/v1/deadline-policies``, ``/deadline-requests`` and ``/deadline-changes``
on the API blueprint (api)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from portal_ext import navigation

bp = Blueprint("deadlines", __name__)

navigation.register("deadlines.requests", _l("Deadline requests"), order=70)
navigation.register("deadlines.policies", _l("Deadline policies"), roles=("admin", "head"),
                    order=71)
navigation.register("deadlines.postponement_report", _l("Postponements"), order=72)

from portal_ext.blueprints.deadlines import api, views  # noqa: E402,F401

"""The deadline guard on the web: the policies page, the request form and a request's page
(views), and ``/api/v1/deadline-policies``, ``/deadline-requests`` and ``/deadline-changes``
on the API blueprint (api)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("deadlines", __name__)

from portal_ext.blueprints.deadlines import api, views  # noqa: E402,F401

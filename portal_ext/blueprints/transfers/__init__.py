"""Dismissal transfers on the web: dismissed users waiting, the transfer form with its
strategies, preview per type and per successor, progress, report, undo, and the automatic-mode
settings (views); ``/api/v1/transfers`` on the API blueprint (api)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from portal_ext import navigation

bp = Blueprint("transfers", __name__, url_prefix="/transfers")

navigation.register("transfers.index", _l("Transfers"), roles=("admin",), order=55)
navigation.register("transfers.settings", _l("Transfer settings"), roles=("admin",), order=56)

from portal_ext.blueprints.transfers import api, api_docs, views  # noqa: E402,F401

"""The extension's own pages: dashboard, users, the event inbox, API tokens, language."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal_ext import navigation

bp = Blueprint("dashboard", __name__)

navigation.register("dashboard.index", _l("Dashboard"), order=10)
navigation.register("dashboard.events", _l("Events"), roles={"admin"}, order=20)
navigation.register("dashboard.users", _l("Users"), roles={"admin", "head"}, order=30)
navigation.register("dashboard.tokens", _l("API tokens"), order=900)

# Labels of stored codes, for badges and filters.
STATE_LABELS = {"pending": _l("pending"), "processing": _l("processing"), "done": _l("done"),
                "failed": _l("failed")}
ROLE_LABELS = {"admin": _l("administrator"), "head": _l("department head"),
               "employee": _l("employee")}
SOURCE_LABELS = {"inprocess": _l("in-process"), "webhook": _l("webhook"),
                 "offline": _l("offline queue")}
MODE_LABELS = {"simulated": _l("simulated portal, in-process"),
               "rest": _l("REST over HTTP")}


def portal_home() -> str | None:
    """The address of the portal's own pages, for the top bar (signed-in viewers only)."""
    if not current_user.is_authenticated:
        return None
    from sqlalchemy.exc import SQLAlchemyError

    from portal_ext.portal.registration import current_portal

    try:
        portal = current_portal()
    except SQLAlchemyError:  # the error page of a failing database still renders
        return None
    base = (portal.base_url or "").rstrip("/")
    if not base:
        return None
    return f"{base}/portal/" if portal.mode == "simulated" else f"{base}/"


def init_app(app: Flask) -> None:
    app.add_template_filter(navigation.grouped, "nav_groups")

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        role = current_user.role if current_user.is_authenticated else None
        return {"nav_entries": navigation.entries_for(role), "state_labels": STATE_LABELS,
                "role_labels": ROLE_LABELS, "source_labels": SOURCE_LABELS,
                "mode_labels": MODE_LABELS, "portal_home": portal_home}


from portal_ext.blueprints.dashboard import views  # noqa: E402,F401

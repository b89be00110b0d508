"""Flask-Login wiring: who the session cookie belongs to.

The session stores only the extension's ``PortalUser.id``. The loader refuses a user who has
been dismissed since logging in, so losing access takes effect on the next request (OWASP
ASVS 5.0 8.3.2). Session protection is "strong": a session presented from another IP address
or browser is dropped (Flask-Login hashes both into the session identifier).
"""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db, login_manager


@login_manager.user_loader
def load_user(user_id: str) -> PortalUser | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(PortalUser, int(user_id))
    if user is None or not user.active:
        return None
    return user


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

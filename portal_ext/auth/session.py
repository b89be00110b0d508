"""Flask-Login wiring: who the session cookie belongs to.

The session stores the extension's ``PortalUser.id`` and the user's session version at login
(``PortalUser.session_version``). The loader refuses a user who has been dismissed since
logging in, and a session whose version is no longer the user's: logging out, a dismissal and
the loss of a role (seen by the directory sync) raise the version, so every session of that
user opened before, including a copied cookie, ends on its next request (OWASP ASVS 5.0 7.4.1,
8.3.2). Session protection is "strong": a session presented from another IP address or browser
is dropped (Flask-Login hashes both into the session identifier).
"""

from __future__ import annotations

from flask import Flask, session
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user

from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db, login_manager

VERSION_KEY = "session_version"


@login_manager.user_loader
def load_user(user_id: str) -> PortalUser | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(PortalUser, int(user_id))
    if user is None or not user.active:
        return None
    if session.get(VERSION_KEY) != user.session_version:
        return None  # logged out, dismissed or demoted since this session began
    return user


def start_session(user: PortalUser) -> None:
    """Log ``user`` in, tying the session to their current session version."""
    login_user(user)
    session[VERSION_KEY] = user.session_version


def end_sessions(user: PortalUser | None) -> None:
    """Log out here and end every other session ``user`` has open (commits)."""
    if user is not None:
        user.end_sessions()
        db.session.commit()
    logout_user()
    session.pop(VERSION_KEY, None)


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

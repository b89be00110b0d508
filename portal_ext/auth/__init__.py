"""Who is logged in and what they may do: login via the portal's OAuth (oauth, signin),
Flask-Login wiring (session), roles for pages (roles), bearer tokens for the API (tokens,
api_auth), security headers and cookie settings (security), and the ``flask token`` command.
"""

from __future__ import annotations

from flask import Flask

from portal_ext.auth.api_auth import ApiError, api_auth, current_api_user
from portal_ext.auth.roles import role_required
from portal_ext.auth.tokens import issue_token

__all__ = ["ApiError", "api_auth", "current_api_user", "init_app", "issue_token",
           "role_required"]


def init_app(app: Flask) -> None:
    from portal_ext.auth import cli, security, session

    session.init_app(app)
    security.init_app(app)
    cli.init_app(app)

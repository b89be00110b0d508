"""Login with the portal (OAuth 2.0 authorization code, see portal_ext.auth.oauth) and logout.

- ``GET  /auth/login``          the login page with its "Log in with the portal" button;
- ``GET  /auth/login/portal``   keeps a random ``state`` in the session, goes to the portal;
- ``GET  /auth/callback``       checks ``state``, exchanges the code, signs the user in;
- ``POST /auth/logout``         (CSRF-protected) ends the session, and every other session
                                 of the same user (portal_ext.auth.session).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal_ext.auth import oauth
from portal_ext.auth.session import end_sessions, start_session
from portal_ext.auth.signin import LoginRefused, sign_in
from portal_ext.blueprints.auth import bp
from portal_ext.blueprints.errors import error_page
from portal_ext.i18n import SESSION_KEY as LANGUAGE_KEY
from portal_ext.portal.registration import current_portal, utcnow

log = logging.getLogger(__name__)

STATE_KEY = "oauth_state"
NEXT_KEY = "login_next"


@bp.get("/login")
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    next_url = safe_next(request.args.get("next"))
    return render_template("auth/login.html", next_url=next_url,
                           portal_url=_portal_url(current_portal()))


@bp.get("/login/portal")
def start() -> Any:
    portal = current_portal()
    client_id = portal.client_id or current_app.config.get("OAUTH_CLIENT_ID")
    if not client_id:
        return error_page(503, _("Login is not configured"),
                          _("The extension is not registered with the portal: set "
                            "PORTAL_EXT_OAUTH_CLIENT_ID and PORTAL_EXT_OAUTH_CLIENT_SECRET."))
    state = secrets.token_urlsafe(32)
    session[STATE_KEY] = state
    next_url = safe_next(request.args.get("next"))
    if next_url:
        session[NEXT_KEY] = next_url
    else:
        session.pop(NEXT_KEY, None)
    return redirect(oauth.authorize_url(portal_url=_portal_url(portal), client_id=client_id,
                                        state=state, redirect_uri=callback_url()))


@bp.get("/callback")
def callback() -> Any:
    expected = session.pop(STATE_KEY, None)
    given = request.args.get("state", "")
    # The state ties the answer to a login this browser started (RFC 6749 section 10.12).
    if not expected or not given or not secrets.compare_digest(str(expected), given):
        log.warning("login: OAuth state mismatch from %s", request.remote_addr)
        return error_page(400, _("Login failed"),
                          _("This login link was not started here or has expired. "
                            "Please log in again."))
    if request.args.get("error"):
        flash(_("The portal did not allow the login: %(reason)s",
                reason=request.args.get("error_description") or request.args["error"]), "error")
        return redirect(url_for("auth.login"))
    code = request.args.get("code", "")
    if not code:
        return error_page(400, _("Login failed"), _("The portal sent no authorization code."))

    portal = current_portal()
    # Tests inject a session routed to the portal's WSGI app; otherwise a real one.
    injected = current_app.config.get("PORTAL_HTTP_SESSION")
    http: requests.Session = injected or requests.Session()
    try:
        tokens = oauth.exchange_code(
            http, portal_url=_portal_url(portal),
            client_id=portal.client_id or current_app.config.get("OAUTH_CLIENT_ID", ""),
            client_secret=(portal.client_secret
                           or current_app.config.get("OAUTH_CLIENT_SECRET", "")),
            code=code)
        identity = oauth.fetch_identity(http, portal_url=_portal_url(portal), tokens=tokens)
        user = sign_in(portal=portal, identity=identity, now=utcnow())
    except oauth.OAuthError as error:
        log.warning("login: the portal refused: %s", error)
        return error_page(400, _("Login failed"),
                          _("The portal did not confirm the login (%(code)s). Please log in "
                            "again.", code=error.code))
    except LoginRefused as refused:
        log.warning("login refused for portal user %s: %s", identity.portal_user_id,
                    refused.reason)
        return error_page(403, _("Login refused"), refused.message)
    finally:
        if injected is None:
            http.close()

    next_url = session.get(NEXT_KEY)
    _fresh_session()  # a new session on login (OWASP ASVS 5.0 7.2.4)
    start_session(user)
    log.info("login: portal user %s (%s)", user.portal_user_id, user.role)
    flash(_("Welcome, %(name)s.", name=user.full_name), "success")
    return redirect(safe_next(next_url) or url_for("dashboard.index"))


@bp.post("/logout")
def logout() -> Any:
    end_sessions(current_user._get_current_object() if current_user.is_authenticated else None)
    _fresh_session()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


def callback_url() -> str:
    return url_for("auth.callback", _external=True)


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an absolute or scheme-relative URL (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _fresh_session() -> None:
    """Forget everything in the session but the visitor's language."""
    language = session.get(LANGUAGE_KEY)
    session.clear()
    if language:
        session[LANGUAGE_KEY] = language


def _portal_url(portal: Any) -> str:
    return str(portal.base_url or current_app.config.get("PORTAL_URL", "")).rstrip("/")

"""Login with the portal (OAuth 2.0 authorization code, see portal_ext.auth.oauth) and logout.

- ``GET  /auth/login``          the login page with its "Log in with the portal" button;
- ``GET  /auth/login/portal``   keeps a random ``state`` in a short-lived login cookie of its
                                 own, goes to the portal;
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
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from portal_ext.auth import oauth
from portal_ext.auth.session import end_sessions, start_session
from portal_ext.auth.signin import LoginRefused, sign_in
from portal_ext.blueprints.auth import bp
from portal_ext.blueprints.errors import error_page
from portal_ext.extensions import db
from portal_ext.i18n import SESSION_KEY as LANGUAGE_KEY
from portal_ext.i18n import remember_language
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import current_portal

log = logging.getLogger(__name__)

# The login under way lives in a cookie of its own, not in the session: the session cookie is
# rewritten by any response that touches the session, and a request the browser sent before the
# login started (a favicon, a second tab) would otherwise answer after it and drop the state.
LOGIN_COOKIE = "portal_ext_login"
LOGIN_MAX_AGE = 600  # seconds a visitor has to sign in on the portal's form


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
    response = redirect(oauth.authorize_url(portal_url=_portal_url(portal), client_id=client_id,
                                            state=state, redirect_uri=callback_url()))
    _remember_login(response, state=state, next_url=safe_next(request.args.get("next")))
    return response


@bp.get("/callback")
def callback() -> Any:
    started = _started_login()
    expected = started.get("state")
    given = request.args.get("state", "")
    # The state ties the answer to a login this browser started (RFC 6749 section 10.12).
    if not expected or not given or not secrets.compare_digest(str(expected), given):
        log.warning("login: OAuth state mismatch from %s", request.remote_addr)
        return _forget_login(error_page(
            400, _("Login failed"),
            _("This login link was not started here or has expired. Please log in again.")))
    return _forget_login(_finish_login(started))


def _finish_login(started: dict[str, Any]) -> Any:
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
        user = sign_in(portal=portal, identity=identity, now=host_utcnow())
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

    next_url = started.get("next")
    _fresh_session()  # a new session on login (OWASP ASVS 5.0 7.2.4)
    start_session(user)
    if remember_language(user):  # what the extension writes to them speaks it too
        db.session.commit()
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


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt="portal-ext-login")


def _remember_login(response: Response, *, state: str, next_url: str | None) -> None:
    response.set_cookie(
        LOGIN_COOKIE, _serializer().dumps({"state": state, "next": next_url}),
        max_age=LOGIN_MAX_AGE, path=url_for("auth.callback"), httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), samesite="Lax")


def _started_login() -> dict[str, Any]:
    """The login this browser started here less than LOGIN_MAX_AGE ago, or {}."""
    value = request.cookies.get(LOGIN_COOKIE)
    if not value:
        return {}
    try:
        started = _serializer().loads(value, max_age=LOGIN_MAX_AGE)
    except BadSignature:
        return {}
    return started if isinstance(started, dict) else {}


def _forget_login(answer: Any) -> Response:
    """A started login is used once, whatever the callback's outcome."""
    response = current_app.make_response(answer)
    response.delete_cookie(LOGIN_COOKIE, path=url_for("auth.callback"), httponly=True,
                           secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                           samesite="Lax")
    return response


def _fresh_session() -> None:
    """Forget everything in the session but the visitor's language."""
    language = session.get(LANGUAGE_KEY)
    session.clear()
    if language:
        session[LANGUAGE_KEY] = language


def _portal_url(portal: Any) -> str:
    return str(portal.base_url or current_app.config.get("PORTAL_URL", "")).rstrip("/")

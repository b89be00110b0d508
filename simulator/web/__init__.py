"""The simulated portal over HTTP: one Flask app serving

- ``/rest/``   the REST API, as a Bitrix24 portal answers it (simulator.web.rest);
- ``/oauth/``  the portal's OAuth 2.0 login and token endpoints (simulator.web.oauth_views);
- ``/_sim/``   the control plane for tests and people: reset, seed, clock, inboxes, settings
  (simulator.web.control);
- ``/portal/`` the portal's own pages, when ``simulator.web.ui`` is installed.

``create_app(sim)`` builds it. The Flask session (the login form's CSRF token) is signed with
``PORTAL_SIM_SECRET_KEY`` or a random key, and uses its own cookie name so it can share a host
with another app. Every answer carries the same security headers as the extension's pages (no
MIME sniffing, no framing, same-origin Referer, a Content-Security-Policy allowing only the
portal's own scripts, styles and images); the login form may also post to the address it
sends the code to.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import secrets
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, abort, current_app, request, session

if TYPE_CHECKING:
    from simulator.portal import Simulator

log = logging.getLogger(__name__)

SESSION_COOKIE = "portal_sim_session"
# The paths this app answers; a composition root that shares one host with another app sends
# these here unchanged (no prefix stripping: the routes carry their full paths).
PATH_PREFIXES = ("/rest/", "/oauth/", "/_sim/", "/portal/")


def serves(path: str) -> bool:
    """Whether a request path belongs to the simulated portal."""
    return path.startswith(PATH_PREFIXES) or path in ("/portal", "/oauth", "/_sim")


SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
}


def _add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def current_sim() -> Simulator:
    """The portal the current request talks to."""
    sim: Simulator = current_app.extensions["simulator"]
    return sim


_CSRF_KEY = "portal_csrf"


def csrf_token() -> str:
    """The portal's own forms (login, inbox) carry a per-session token."""
    token = session.get(_CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return str(token)


def csrf_valid() -> bool:
    given = request.form.get("csrf_token", "")
    return bool(given) and secrets.compare_digest(given, session.get(_CSRF_KEY, ""))


def check_csrf() -> None:
    if not csrf_valid():
        abort(400, "The form has expired; reload the page and try again.")


def json_response(body: Any, status: int = 200) -> Response:
    """JSON in the key order the handlers produced (Flask's own provider sorts keys). A value
    JSON cannot hold is a handler's bug: it raises, and the REST layer answers 500."""
    text = json.dumps(body, ensure_ascii=False)
    return Response(text, status=status, mimetype="application/json")


def create_app(sim: Simulator, *, control_token: str | None = None,
               secret_key: str | None = None) -> Flask:
    """The simulator's WSGI app for ``sim``.

    ``control_token`` guards ``/_sim/`` (see simulator.web.control); by default it comes from
    ``PORTAL_SIM_CONTROL_TOKEN``.
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or os.environ.get("PORTAL_SIM_SECRET_KEY") or secrets.token_hex(32),
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["simulator"] = sim

    from simulator.web import bizproc_views, control, control_people, oauth_views, rest  # noqa: F401

    app.register_blueprint(rest.bp)
    app.register_blueprint(oauth_views.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(bizproc_views.bp)
    control.configure(app, control_token)
    oauth_views.init_app(app)

    # The portal's own pages come from their own module; the API works without them.
    if importlib.util.find_spec("simulator.web.ui") is not None:
        ui = importlib.import_module("simulator.web.ui")
        bizproc_views.add_page(ui.bp)
        app.register_blueprint(ui.bp)

    app.after_request(_add_security_headers)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _method_not_allowed)
    return app


def _not_found(error: Exception) -> Any:
    if request.path.startswith("/rest/"):
        return json_response({"error": "ERROR_METHOD_NOT_FOUND",
                              "error_description": "Method not found!"}, 404)
    if request.path.startswith("/_sim/"):
        return json_response({"error": "NOT_FOUND", "error_description": "No such control"}, 404)
    return error


def _method_not_allowed(error: Exception) -> Any:
    if request.path.startswith(("/rest/", "/_sim/")):
        return json_response({"error": "METHOD_NOT_ALLOWED",
                              "error_description": f"{request.method} is not allowed here"}, 405)
    return error

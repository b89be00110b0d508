"""The portal's OAuth 2.0 pages (docs: settings/oauth/index.md):

- ``GET /oauth/authorize/?client_id=..&state=..&redirect_uri=..`` shows the portal's login
  form (e-mail and password). A correct login of an active user redirects to the application's
  ``redirect_uri`` with ``code, state, domain, member_id, scope, server_domain``; a wrong one
  shows the form again with an error and issues nothing; an unknown application gets a 400
  page. The portal keeps no login session of its own: every authorization shows the form.
- ``/oauth/token/`` (GET or POST) exchanges a code (``grant_type=authorization_code``) or a
  refresh token (``grant_type=refresh_token``) for tokens; errors are JSON
  ``{"error": "invalid_grant" | "invalid_client" | "invalid_request" |
  "unsupported_grant_type", "error_description"}`` with HTTP 400.

The form is the portal's own, so it carries its own CSRF token, kept in the Flask session.

Wrong passwords slow the form down (:class:`LoginThrottle`): after 5 failed sign-ins for one
e-mail, or 20 from one client address, within 15 minutes, the form answers 429 with
``Retry-After`` and checks no password, the right one included, until the oldest of those
failures is 15 minutes old. A correct sign-in clears its e-mail's failures. The counts live in
the server process (a restart forgets them; behind a proxy the address is the proxy's).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request

from simulator import oauth
from simulator.web import SECURITY_HEADERS, csrf_token, csrf_valid, current_sim, json_response

bp = Blueprint("sim_oauth", __name__, url_prefix="/oauth", template_folder="templates",
               static_folder="static", static_url_path="/static")


class LoginThrottle:
    """Failed sign-ins per e-mail and per client address over a sliding window."""

    ACCOUNT_LIMIT = 5
    ADDRESS_LIMIT = 20
    WINDOW_SECONDS = 15 * 60
    MAX_KEYS = 10_000  # forget the quietest keys beyond this many

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.WINDOW_SECONDS:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, email: str, address: str) -> int:
        """Seconds until a sign-in may be tried again; 0 when it may be tried now."""
        now = self.clock()
        waits = []
        with self._lock:
            for key, limit in ((f"email:{email.strip().lower()}", self.ACCOUNT_LIMIT),
                               (f"addr:{address}", self.ADDRESS_LIMIT)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[-limit] + self.WINDOW_SECONDS - now)
        return max(1, math.ceil(max(waits))) if waits else 0

    def failed(self, email: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= self.MAX_KEYS:
                for key in [k for k, v in self._failures.items()
                            if not v or v[-1] <= now - self.WINDOW_SECONDS]:
                    del self._failures[key]
                if len(self._failures) >= self.MAX_KEYS:
                    self._failures.clear()
            for key in (f"email:{email.strip().lower()}", f"addr:{address}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(f"email:{email.strip().lower()}", None)


def init_app(app: Flask) -> None:
    app.extensions["sim_login_throttle"] = LoginThrottle()


def login_throttle() -> LoginThrottle:
    throttle: LoginThrottle = current_app.extensions["sim_login_throttle"]
    return throttle


def _base_url() -> str:
    return request.url_root.rstrip("/")


def _error_page(message: str, status: int = 400) -> tuple[str, int]:
    return render_template("oauth/error.html", message=message, domain=request.host), status


@bp.route("/authorize/", methods=["GET", "POST"], strict_slashes=False)
def authorize() -> Any:
    sim = current_sim()
    source = request.form if request.method == "POST" else request.args
    client_id = source.get("client_id") or request.args.get("client_id", "")
    state = source.get("state") or request.args.get("state", "")
    app = oauth.get_app(sim, client_id)
    if app is None:
        return _error_page("Unknown application: check the client_id.")
    redirect_uri = (source.get("redirect_uri") or request.args.get("redirect_uri")
                    or app["redirect_uri"])
    if not redirect_uri:
        return _error_page("The application has no redirect address.")
    if not oauth.redirect_allowed(app, redirect_uri):
        return _error_page("The redirect address does not belong to this application.")

    form = {"client_id": client_id, "state": state, "redirect_uri": redirect_uri,
            "email": source.get("email", "") if request.method == "POST" else ""}
    if request.method == "GET":
        return _login_page(app, form)

    if not csrf_valid():
        return _login_page(app, form, error="The form has expired. Please sign in again.",
                           status=400)
    email, address = request.form.get("email", ""), request.remote_addr or ""
    throttle = login_throttle()
    wait = throttle.retry_after(email, address)
    if wait:
        page = _login_page(app, form, status=429,
                           error="Too many failed sign-ins. Please try again in "
                                 f"{math.ceil(wait / 60)} min.")
        page.headers["Retry-After"] = str(wait)
        return page
    user_id = oauth.authenticate(sim, email, request.form.get("password", ""))
    if user_id is None:
        throttle.failed(email, address)
        return _login_page(app, form, error="Incorrect e-mail or password.", status=200)
    throttle.succeeded(email)

    code = oauth.issue_code(sim, client_id, user_id)
    domain = request.host
    query = urlencode({"code": code, "state": state, "domain": domain,
                       "member_id": sim.member_id, "scope": oauth.SCOPE,
                       "server_domain": domain})
    separator = "&" if "?" in redirect_uri else "?"
    return redirect(f"{redirect_uri}{separator}{query}", code=302)


def _login_page(app: dict[str, Any], form: dict[str, str], *, error: str | None = None,
                status: int = 200) -> Response:
    html = render_template("oauth/login.html", app_name=app["name"] or app["client_id"],
                           domain=request.host, form=form, error=error,
                           csrf_token=csrf_token())
    response = Response(html, status=status, mimetype="text/html")
    # A correct sign-in redirects the form's POST to the application: let it go there.
    target = urlsplit(form["redirect_uri"])
    if target.scheme in ("http", "https") and target.netloc:
        policy = SECURITY_HEADERS["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = policy.replace(
            "form-action 'self'", f"form-action 'self' {target.scheme}://{target.netloc}")
    return response


@bp.route("/token/", methods=["GET", "POST"], strict_slashes=False)
def token() -> Response:
    sim = current_sim()
    values = request.values
    grant_type = values.get("grant_type", "")
    common = {"client_id": values.get("client_id", ""),
              "client_secret": values.get("client_secret", ""), "base_url": _base_url()}
    try:
        if grant_type == "authorization_code":
            answer = oauth.exchange_code(sim, code=values.get("code", ""), **common)
        elif grant_type == "refresh_token":
            answer = oauth.refresh(sim, refresh_token=values.get("refresh_token", ""), **common)
        else:
            raise oauth.OAuthError("unsupported_grant_type",
                                   "grant_type must be authorization_code or refresh_token")
    except oauth.OAuthError as error:
        return json_response(error.as_dict(), error.status)
    return json_response(answer)

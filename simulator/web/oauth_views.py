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
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, render_template, request

from simulator import oauth
from simulator.web import csrf_token, csrf_valid, current_sim, json_response

bp = Blueprint("sim_oauth", __name__, url_prefix="/oauth", template_folder="templates")

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
    user_id = oauth.authenticate(sim, request.form.get("email", ""),
                                 request.form.get("password", ""))
    if user_id is None:
        return _login_page(app, form, error="Incorrect e-mail or password.", status=200)

    code = oauth.issue_code(sim, client_id, user_id)
    domain = request.host
    query = urlencode({"code": code, "state": state, "domain": domain,
                       "member_id": sim.member_id, "scope": oauth.SCOPE,
                       "server_domain": domain})
    separator = "&" if "?" in redirect_uri else "?"
    return redirect(f"{redirect_uri}{separator}{query}", code=302)


def _login_page(app: dict[str, Any], form: dict[str, str], *, error: str | None = None,
                status: int = 200) -> tuple[str, int]:
    html = render_template("oauth/login.html", app_name=app["name"] or app["client_id"],
                           domain=request.host, form=form, error=error,
                           csrf_token=csrf_token())
    return html, status


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

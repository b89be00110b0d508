"""The portal's OAuth 2.0 authorization-code flow, as a Bitrix24 local application uses it.

1. The browser goes to ``{portal}/oauth/authorize/?client_id=..&state=..&redirect_uri=..``;
   the portal shows its own login form.
2. The portal redirects back with ``code`` and ``state`` (plus ``domain``, ``member_id``...).
3. The server exchanges the code at ``{portal}/oauth/token/?grant_type=authorization_code&
   client_id=..&client_secret=..&code=..`` and gets ``access_token`` and the portal user id.
4. REST calls go to ``{portal}/rest/{method}`` with ``auth=<access_token>``: ``profile``
   tells who logged in, ``user.admin`` whether they administer the portal.

Source: Bitrix24 REST docs, "OAuth 2.0 authorization" (oauth/index.md) and
settings/how-to-call-rest-api/general-principles.md. Requests go through an injectable
``requests.Session`` (config ``PORTAL_HTTP_SESSION``) so tests can route them to the portal's
WSGI app instead of the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

TIMEOUT_SECONDS = 10.0


class OAuthError(Exception):
    """The portal refused the code or answered something unusable."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


@dataclass(frozen=True)
class PortalIdentity:
    """Who logged in, as the portal says."""

    portal_user_id: int
    is_admin: bool
    name: str
    last_name: str
    member_id: str | None = None


def authorize_url(*, portal_url: str, client_id: str, state: str, redirect_uri: str) -> str:
    query = urlencode({"client_id": client_id, "state": state, "redirect_uri": redirect_uri})
    return f"{portal_url.rstrip('/')}/oauth/authorize/?{query}"


def exchange_code(http: requests.Session, *, portal_url: str, client_id: str,
                  client_secret: str, code: str) -> dict[str, Any]:
    """Trade the authorization code for tokens (server to server, never via the browser)."""
    params = {"grant_type": "authorization_code", "client_id": client_id,
              "client_secret": client_secret, "code": code}
    body = _get_json(http, f"{portal_url.rstrip('/')}/oauth/token/", params)
    if not body.get("access_token"):
        raise OAuthError("invalid_response", "the portal sent no access token")
    return body


def refresh_tokens(http: requests.Session, *, oauth_url: str, client_id: str,
                   client_secret: str, refresh_token: str) -> dict[str, Any]:
    """Trade a refresh token for a new pair at the OAuth server (``{oauth_url}/oauth/token/``:
    the portal itself on-premise, ``https://oauth.bitrix.info`` for the cloud). The old pair
    stops working (oauth/index.md)."""
    params = {"grant_type": "refresh_token", "client_id": client_id,
              "client_secret": client_secret, "refresh_token": refresh_token}
    body = _get_json(http, f"{oauth_url.rstrip('/')}/oauth/token/", params)
    if not body.get("access_token") or not body.get("refresh_token"):
        raise OAuthError("invalid_response", "the OAuth server sent no token pair")
    return body


def call_rest(http: requests.Session, *, portal_url: str, access_token: str, method: str,
              params: dict[str, Any] | None = None) -> Any:
    """One REST call on behalf of the logged-in user; returns ``result``."""
    body = _get_json(http, f"{portal_url.rstrip('/')}/rest/{method}",
                     {**(params or {}), "auth": access_token})
    if "result" not in body:
        raise OAuthError("invalid_response", f"{method} returned no result")
    return body["result"]


def fetch_identity(http: requests.Session, *, portal_url: str,
                   tokens: dict[str, Any]) -> PortalIdentity:
    access_token = str(tokens["access_token"])
    profile = call_rest(http, portal_url=portal_url, access_token=access_token, method="profile")
    if not isinstance(profile, dict) or not str(profile.get("ID", "")).isdigit():
        raise OAuthError("invalid_response", "profile returned no user id")
    user_id = int(profile["ID"])
    if tokens.get("user_id") is not None and str(tokens["user_id"]) != str(user_id):
        # The token was issued for someone else than the profile describes: trust neither.
        raise OAuthError("invalid_response", "the token and the profile name different users")
    is_admin = call_rest(http, portal_url=portal_url, access_token=access_token,
                         method="user.admin")
    return PortalIdentity(
        portal_user_id=user_id,
        is_admin=is_admin is True or str(is_admin).lower() in ("true", "1", "y"),
        name=str(profile.get("NAME") or ""),
        last_name=str(profile.get("LAST_NAME") or ""),
        member_id=tokens.get("member_id"),
    )


def _get_json(http: requests.Session, url: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        response = http.get(url, params=params, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise OAuthError("portal_unreachable", str(exc)) from exc
    try:
        body = response.json()
    except ValueError as exc:
        raise OAuthError("invalid_response",
                         f"HTTP {response.status_code} without JSON from {url}") from exc
    if not isinstance(body, dict):
        raise OAuthError("invalid_response", f"unexpected answer from {url}")
    if "error" in body:
        raise OAuthError(str(body["error"]), str(body.get("error_description") or ""))
    return body

"""The application transport: calls in the context of the extension installed as a portal
application.

Some methods answer only an installed application, never an incoming webhook: ``bizproc.*``
(robots and their answers, reference wave 2 §1.6), ``event.bind`` on the cloud (§8). For them
the port has a second transport, :class:`ApplicationTransport`, under the same
:class:`~portal_ext.portal.client.PortalClient`: ``application_client(portal).call(...)``.

Installation. When an administrator installs the application, the portal posts
``ONAPPINSTALL`` to the application's install handler with the application's tokens in
``auth[...]`` (``access_token``, ``refresh_token``, ``expires_in``, ``scope``,
``application_token``, ``member_id``, ``domain``; api-reference/events/index.md: the refresh
token comes only with this event). :func:`install_from_event` trusts none of it by itself: the
member id and the domain must be the registered portal's, and the portal must accept the
access token (``app.info``) at the registered portal's own address, not at an address the
request names. Then the tokens are kept in ``app_installation``, encrypted (Fernet,
``APP_TOKEN_KEY``), with the application token the portal signs the robot's calls with.

Refresh. An access token lives an hour. A call first refreshes a token that expires within
:data:`REFRESH_MARGIN`, and a call answered ``expired_token`` or ``invalid_token`` refreshes
once and is sent again. A refresh goes to the OAuth server (``OAUTH_SERVER_URL``: the portal
itself on-premise and in the simulator, ``https://oauth.bitrix.info`` for the cloud) with the
registered client id and secret, under a row lock, so two processes never spend the same
refresh token (it works once).

Calls are ``POST {portal}/rest/{method}.json`` with a JSON body and ``auth`` in it, through an
injectable ``requests.Session`` (config ``PORTAL_HTTP_SESSION``, as the login's). They are few
(one robot registration, one answer per robot run): one at a time, a 503
``QUERY_LIMIT_EXCEEDED`` waited out a few times with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.errors import PortalError, unavailable
from portal_ext.portal.models import Portal
from portal_ext.portal.transports import Envelope

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
TIMEOUT_SECONDS = 30.0
BUSY_RETRIES = 3  # a 503 QUERY_LIMIT_EXCEEDED is waited out this many times
_EXPIRED = ("expired_token", "invalid_token")
_STATE = "portal_ext.portal.application"


class AppInstallation(db.Model):  # type: ignore[name-defined]
    """The extension's installation as an application on one portal: its tokens, encrypted."""

    __tablename__ = "app_installation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), unique=True)
    client_id: Mapped[str] = mapped_column(String(255))
    member_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    rest_url: Mapped[str] = mapped_column(String(500))  # {portal}/rest/
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # who installed it
    scope: Mapped[str] = mapped_column(String(500), default="")
    access_token: Mapped[str] = mapped_column(Text)  # Fernet tokens, never the plain values
    refresh_token: Mapped[str] = mapped_column(Text)
    application_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime)  # host clock, naive UTC
    installed_at: Mapped[datetime] = mapped_column(DateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @property
    def scopes(self) -> list[str]:
        return [s.strip() for s in (self.scope or "").split(",") if s.strip()]


class InstallRefused(Exception):
    """An install event the extension does not accept: ``field`` names the culprit."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


# -- encryption -----------------------------------------------------------------------------------
def cipher(config: Mapping[str, Any] | None = None) -> MultiFernet:
    """The tokens' cipher: ``APP_TOKEN_KEY`` (comma-separated Fernet keys; the first encrypts),
    else a key derived from ``SECRET_KEY``."""
    config = current_app.config if config is None else config
    keys = [k.strip() for k in str(config.get("APP_TOKEN_KEY") or "").split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"app-token-key\n" + str(config["SECRET_KEY"]).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise RuntimeError("PORTAL_EXT_APP_TOKEN_KEY must hold Fernet keys (32 url-safe "
                           "base64-encoded bytes each), comma-separated") from exc


def seal(value: str) -> str:
    return cipher().encrypt(value.encode("utf-8")).decode("ascii")


def unseal(value: str) -> str:
    try:
        return cipher().decrypt(value.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise PortalError("NO_AUTH_FOUND", "the application's stored tokens cannot be read "
                          "with the configured APP_TOKEN_KEY: install the application again",
                          401) from exc


# -- the installation -----------------------------------------------------------------------------
def installation(portal: Portal) -> AppInstallation | None:
    return db.session.scalars(select(AppInstallation)
                              .where(AppInstallation.portal_id == portal.id)).first()


def application_token_matches(portal: Portal, presented: str | None) -> bool:
    """Whether ``presented`` is the application token the portal gave this installation
    (compared in constant time; False when the application is not installed)."""
    found = installation(portal)
    if found is None or not presented:
        return False
    try:
        expected = unseal(found.application_token)
    except PortalError:  # sealed with a key no longer configured: nothing matches
        log.warning("the application token cannot be read with APP_TOKEN_KEY")
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def http_session() -> requests.Session:
    injected = current_app.config.get("PORTAL_HTTP_SESSION")
    return injected if injected is not None else _state(current_app).setdefault(
        "http", requests.Session())


def _client_credentials(portal: Portal) -> tuple[str, str]:
    config = current_app.config
    return (portal.client_id or str(config.get("OAUTH_CLIENT_ID") or ""),
            portal.client_secret or str(config.get("OAUTH_CLIENT_SECRET") or ""))


def portal_address(portal: Portal) -> str:
    return (portal.base_url or str(current_app.config.get("PORTAL_URL") or "")).rstrip("/")


def _host(url: str) -> str:
    return (urlsplit(url if "://" in url else f"//{url}").netloc or "").lower()


def install_from_event(portal: Portal, auth: Mapping[str, Any], *, now: datetime
                       ) -> AppInstallation:
    """Keep the tokens an ``ONAPPINSTALL`` event hands over (``auth[...]``), once the portal
    confirms them; commits. Raises :class:`InstallRefused` naming the field at fault."""
    def text(name: str, limit: int = 1000) -> str:
        value = auth.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InstallRefused(f"auth[{name}]", f"auth[{name}] is required.")
        if len(value) > limit:
            raise InstallRefused(f"auth[{name}]", f"auth[{name}] is too long.")
        return value.strip()

    access, refresh = text("access_token"), text("refresh_token")
    app_token = text("application_token", 255)
    member_id = text("member_id", 255)
    if portal.member_id and not hmac.compare_digest(member_id, portal.member_id):
        raise InstallRefused("auth[member_id]", "The event comes from another portal.", 403)
    address = portal_address(portal)
    domain = auth.get("domain")
    if isinstance(domain, str) and domain and _host(domain) != _host(address):
        raise InstallRefused("auth[domain]", "The event names another portal's address.", 403)
    expires_in = _seconds(auth.get("expires_in"), "auth[expires_in]")
    rest_url = f"{address}/rest/"
    client_id, _secret = _client_credentials(portal)
    # The portal must accept the token at its own, registered address.
    try:
        info = _post(http_session(), rest_url, "app.info", {}, access)
    except PortalError as exc:
        raise InstallRefused("auth[access_token]", f"The portal does not accept the access "
                             f"token: {exc.code}.", 403) from exc
    result = info.get("result")
    code = result.get("CODE") if isinstance(result, Mapping) else None
    if code and client_id and str(code) != client_id:
        raise InstallRefused("auth[access_token]", "The token belongs to another application.",
                             403)
    found = installation(portal) or AppInstallation(portal_id=portal.id, installed_at=now)
    found.client_id = client_id
    found.member_id = member_id
    found.rest_url = rest_url
    user_id = auth.get("user_id")
    found.user_id = int(user_id) if isinstance(user_id, str) and user_id.isdigit() else None
    found.scope = str(auth.get("scope") or "")[:500]
    found.access_token, found.refresh_token = seal(access), seal(refresh)
    found.application_token = seal(app_token)
    found.expires_at = now + timedelta(seconds=expires_in)
    found.installed_at = now
    found.refreshed_at = None
    db.session.add(found)
    db.session.commit()
    _state(current_app)["clients"].pop(portal.id, None)
    return found


def _seconds(value: Any, field: str) -> int:
    text = str(value or "3600")
    if not text.isdigit() or not 60 <= int(text) <= 86400 * 30:
        raise InstallRefused(field, f"{field} must be a number of seconds.")
    return int(text)


# -- the transport --------------------------------------------------------------------------------
class ApplicationTransport:
    """Carries one call with the installed application's access token (see the module's
    docstring). Reads and refreshes the tokens in transactions of its own, so a caller's
    unfinished work is never committed by it."""

    max_in_flight = 1

    def __init__(self, app: Flask, portal_id: int) -> None:
        self.app = app
        self.portal_id = portal_id
        self._lock = threading.Lock()

    def call_raw(self, method: str, params: dict[str, Any]) -> Envelope:
        token, rest_url = self._token()
        try:
            return _post(http_session(), rest_url, method, params, token)
        except PortalError as exc:
            if exc.code not in _EXPIRED:
                raise
        token, rest_url = self._token(failed=token)
        return _post(http_session(), rest_url, method, params, token)

    def close(self) -> None:
        return None

    def _token(self, failed: str | None = None) -> tuple[str, str]:
        """A usable access token (refreshed first when it expires soon, or when ``failed``
        is the one the portal just refused) and where to send calls."""
        table = AppInstallation.__table__
        with self._lock, db.engine.begin() as conn:
            row = conn.execute(select(table).where(table.c.portal_id == self.portal_id)
                               .with_for_update()).mappings().first()
            if row is None:
                raise PortalError("NO_AUTH_FOUND", "the extension is not installed as an "
                                  "application on this portal", 401)
            access = unseal(row["access_token"])
            now = host_utcnow()
            if failed is None and row["expires_at"] - now > REFRESH_MARGIN:
                return access, row["rest_url"]
            if failed is not None and access != failed:
                return access, row["rest_url"]  # another caller refreshed meanwhile
            fresh = self._refresh(unseal(row["refresh_token"]))
            conn.execute(table.update().where(table.c.id == row["id"]).values(
                access_token=seal(fresh["access_token"]),
                refresh_token=seal(fresh["refresh_token"]),
                expires_at=now + timedelta(seconds=int(fresh.get("expires_in") or 3600)),
                scope=str(fresh.get("scope") or row["scope"])[:500], refreshed_at=now))
            return str(fresh["access_token"]), row["rest_url"]

    def _refresh(self, refresh_token: str) -> dict[str, Any]:
        from portal_ext.auth.oauth import OAuthError, refresh_tokens

        portal = db.session.get(Portal, self.portal_id)
        if portal is None:
            raise PortalError("NO_AUTH_FOUND", "the portal is no longer registered", 401)
        client_id, secret = _client_credentials(portal)
        server = str(current_app.config.get("OAUTH_SERVER_URL") or "") or portal_address(portal)
        try:
            return refresh_tokens(http_session(), oauth_url=server, client_id=client_id,
                                  client_secret=secret, refresh_token=refresh_token)
        except OAuthError as exc:
            log.warning("the application's token refresh was refused: %s", exc)
            raise PortalError("expired_token", f"the application's tokens could not be "
                              f"refreshed ({exc.code}): install the application again",
                              401) from exc


def _post(http: requests.Session, rest_url: str, method: str, params: Mapping[str, Any],
          token: str) -> Envelope:
    url = f"{rest_url}{method}.json"
    for attempt in range(BUSY_RETRIES + 1):
        try:
            response = http.post(url, json={**params, "auth": token}, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise unavailable(f"{method}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise PortalError("ERROR_UNEXPECTED_ANSWER", f"{method}: HTTP "
                              f"{response.status_code} without a JSON object",
                              response.status_code)
        if response.status_code == 503 and body.get("error") == "QUERY_LIMIT_EXCEEDED" \
                and attempt < BUSY_RETRIES:
            time.sleep(0.5 * 2 ** attempt)
            continue
        if "error" in body and "result" not in body:
            raise PortalError.from_body(body, response.status_code
                                        if response.status_code >= 400 else 400)
        return body
    raise unavailable(f"{method}: the portal stayed busy")  # pragma: no cover


# -- the client -----------------------------------------------------------------------------------
def _state(app: Flask) -> dict[str, Any]:
    return app.extensions.setdefault(_STATE, {"clients": {}})


def application_client(portal: Portal) -> PortalClient:
    """The port's client in the application's context on ``portal`` (its calls raise
    ``NO_AUTH_FOUND`` until the application is installed)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    clients: dict[int, PortalClient] = _state(app)["clients"]
    client = clients.get(portal.id)
    if client is None:
        client = PortalClient(ApplicationTransport(app, portal.id))
        clients[portal.id] = client
    return client

"""The portal's OAuth 2.0 server for local applications (docs: settings/oauth/index.md).

- ``register_app`` makes a local application (client id, secret, redirect URI). Every app gets
  the portal's own application token (``sim.application_token``), the one that outgoing event
  webhooks carry, so an app sees the same token whether it bound its handlers through OAuth or
  through the incoming webhook.
- An authorization code lives 30 seconds and works once; an access token lives one hour
  (``expires_in: 3600``); a refresh token 28 days and is replaced on every refresh, as on the
  portal. Times are portal time, so advancing the portal's clock expires tokens.
- The token answer names the portal itself as ``domain`` and ``server_endpoint``: an
  on-premise portal is its own OAuth server (the cloud answers ``oauth.bitrix.info``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from werkzeug.security import check_password_hash

from simulator.core import tables as core_tables
from simulator.core.errors import ExpiredToken, InvalidToken, NoAuth
from simulator.users import tables as users_tables

if TYPE_CHECKING:
    from simulator.portal import Simulator

CODE_LIFETIME = timedelta(seconds=30)
ACCESS_LIFETIME = timedelta(hours=1)
REFRESH_LIFETIME = timedelta(days=28)
SCOPE = "crm,user,user_basic,department,task,im,calendar,placement,bizproc"


class OAuthError(Exception):
    """An OAuth endpoint's error: ``{"error": code, "error_description": text}``, HTTP 400."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status

    def as_dict(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


# -- applications --------------------------------------------------------------------------------
def register_app(sim: Simulator, client_id: str, client_secret: str, redirect_uri: str = "", *,
                 name: str = "") -> str:
    """Create or update a local application; returns its application token. Idempotent."""
    if not client_id or not client_secret:
        raise ValueError("client_id and client_secret are required")
    token = sim.application_token
    values = {"client_secret": client_secret, "redirect_uri": redirect_uri or "",
              "name": name or client_id, "application_token": token}
    with sim._locked(), sim.engine.begin() as conn:
        found = conn.execute(select(core_tables.apps.c.client_id)
                             .where(core_tables.apps.c.client_id == client_id)).first()
        if found:
            conn.execute(core_tables.apps.update()
                         .where(core_tables.apps.c.client_id == client_id).values(**values))
        else:
            conn.execute(core_tables.apps.insert().values(client_id=client_id, **values))
    return token


def get_app(sim: Simulator, client_id: str | None) -> dict[str, Any] | None:
    if not client_id:
        return None
    with sim.engine.connect() as conn:
        row = conn.execute(select(core_tables.apps).where(core_tables.apps.c.client_id == client_id)
                           ).mappings().first()
    return dict(row) if row else None


def list_apps(sim: Simulator) -> list[dict[str, Any]]:
    with sim.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(core_tables.apps)).mappings()]


def restore_apps(sim: Simulator, apps: list[dict[str, Any]]) -> None:
    """Register again the applications a portal reset wiped out (the control plane's reset)."""
    for app in apps:
        register_app(sim, app["client_id"], app["client_secret"], app["redirect_uri"],
                     name=app["name"])


def redirect_allowed(app: dict[str, Any], redirect_uri: str) -> bool:
    """The portal sends the code only to the application's own address: the registered URI
    itself or one on the same scheme and host (an app registered without one accepts any)."""
    registered = app.get("redirect_uri") or ""
    if not registered or redirect_uri == registered:
        return True
    return _origin(redirect_uri) == _origin(registered)


def _origin(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    return f"{scheme.lower()}://{rest.split('/', 1)[0].split('?', 1)[0].lower()}"


# -- people signing in ---------------------------------------------------------------------------
def authenticate(sim: Simulator, email: str, password: str) -> int | None:
    """The user id for a correct e-mail and password of an active user; None otherwise."""
    email = (email or "").strip()
    if not email or not password:
        return None
    with sim.engine.connect() as conn:
        users = users_tables.users
        row = conn.execute(select(users.c.id, users.c.active, users.c.password_hash)
                           .where(users.c.email.ilike(email))).first()
    if row is None or not row.active or not row.password_hash:
        return None
    return int(row.id) if check_password_hash(row.password_hash, password) else None


# -- codes and tokens ----------------------------------------------------------------------------
def issue_code(sim: Simulator, client_id: str, user_id: int) -> str:
    code = secrets.token_hex(16)
    with sim._locked(), sim.engine.begin() as conn:
        conn.execute(core_tables.oauth_codes.insert().values(
            code=code, client_id=client_id, user_id=user_id,
            expires_at=sim.clock.now() + CODE_LIFETIME))
    return code


def exchange_code(sim: Simulator, *, client_id: str, client_secret: str, code: str,
                  base_url: str) -> dict[str, Any]:
    _check_client(sim, client_id, client_secret)
    if not code:
        raise OAuthError("invalid_request", "The code parameter is required")
    now = sim.clock.now()
    _ = sim.member_id  # made (a settings write) before the transaction below, never inside it
    with sim._locked(), sim.engine.begin() as conn:
        codes = core_tables.oauth_codes
        row = conn.execute(select(codes).where(codes.c.code == code)).first()
        # A code works once: it is gone after the first exchange, whatever the outcome.
        conn.execute(delete(codes).where(codes.c.code == code))
        if (row is not None and row.client_id == client_id and row.expires_at >= now
                and _user_active(conn, int(row.user_id))):
            return _issue_tokens(sim, conn, client_id, int(row.user_id), now, base_url)
    raise OAuthError("invalid_grant", "Invalid authorization code")


def refresh(sim: Simulator, *, client_id: str, client_secret: str, refresh_token: str,
            base_url: str) -> dict[str, Any]:
    _check_client(sim, client_id, client_secret)
    if not refresh_token:
        raise OAuthError("invalid_request", "The refresh_token parameter is required")
    now = sim.clock.now()
    _ = sim.member_id  # see exchange_code
    table = core_tables.oauth_tokens
    with sim._locked(), sim.engine.begin() as conn:
        row = conn.execute(select(table).where(table.c.refresh_token == refresh_token)).first()
        if row is None or row.client_id != client_id:
            raise OAuthError("invalid_grant", "Invalid refresh token")
        # Refreshing replaces both tokens; the old pair stops working either way.
        conn.execute(delete(table).where(table.c.refresh_token == refresh_token))
        fresh = row.expires_at - ACCESS_LIFETIME + REFRESH_LIFETIME >= now
        if fresh and _user_active(conn, int(row.user_id)):
            return _issue_tokens(sim, conn, client_id, int(row.user_id), now, base_url)
    raise OAuthError("invalid_grant", "Refresh token has expired or its user is not active")


def user_for_access_token(sim: Simulator, access_token: str) -> int:
    """The user an access token acts for, or the portal's 401 error."""
    with sim.engine.connect() as conn:
        tokens = core_tables.oauth_tokens
        row = conn.execute(select(tokens.c.user_id, tokens.c.expires_at)
                           .where(tokens.c.access_token == access_token)).first()
        active = row is not None and _user_active(conn, int(row.user_id))
    if row is None:
        raise InvalidToken()
    if row.expires_at < sim.clock.now():
        raise ExpiredToken()
    if not active:
        raise NoAuth()
    return int(row.user_id)


def client_for_access_token(sim: Simulator, access_token: str) -> str | None:
    """The application an access token was issued to (None for an unknown token)."""
    with sim.engine.connect() as conn:
        tokens = core_tables.oauth_tokens
        row = conn.execute(select(tokens.c.client_id)
                           .where(tokens.c.access_token == access_token)).first()
    return str(row.client_id) if row is not None else None


def issue_tokens(sim: Simulator, client_id: str, user_id: int, base_url: str) -> dict[str, Any]:
    """A token pair for ``user_id`` in application ``client_id``, as an installation hands it
    over (simulator.bizproc.install)."""
    if get_app(sim, client_id) is None:
        raise OAuthError("invalid_client", "Invalid client credentials")
    now = sim.clock.now()
    _ = sim.member_id  # see exchange_code
    with sim._locked(), sim.engine.begin() as conn:
        return _issue_tokens(sim, conn, client_id, user_id, now, base_url)


def _check_client(sim: Simulator, client_id: str, client_secret: str) -> None:
    app = get_app(sim, client_id)
    if app is None or not secrets.compare_digest(app["client_secret"], client_secret or ""):
        raise OAuthError("invalid_client", "Invalid client credentials")


def _user_active(conn: Any, user_id: int) -> bool:
    users = users_tables.users
    row = conn.execute(select(users.c.active).where(users.c.id == user_id)).first()
    return bool(row and row.active)


def _issue_tokens(sim: Simulator, conn: Any, client_id: str, user_id: int, now: datetime,
                  base_url: str) -> dict[str, Any]:
    access, refresh_token = secrets.token_hex(24), secrets.token_hex(24)
    expires_at = now + ACCESS_LIFETIME
    conn.execute(core_tables.oauth_tokens.insert().values(
        access_token=access, refresh_token=refresh_token, client_id=client_id,
        user_id=user_id, expires_at=expires_at))
    base = base_url.rstrip("/")
    return {
        "access_token": access,
        "refresh_token": refresh_token,
        "expires_in": int(ACCESS_LIFETIME.total_seconds()),
        "expires": int((expires_at - datetime(1970, 1, 1)).total_seconds()),
        "scope": SCOPE,
        "domain": base.split("://", 1)[-1],
        "server_endpoint": f"{base}/rest/",
        "client_endpoint": f"{base}/rest/",
        "member_id": sim.member_id,
        "user_id": user_id,
        "status": "L",
    }

"""Installing an application: the portal hands it its tokens.

On the portal an administrator installs a local application; the portal then posts
``ONAPPINSTALL`` to the application's install handler, form-encoded like its other events,
with the application's tokens in ``auth[...]``: ``access_token``, ``refresh_token`` (which
only this event and the offline events carry), ``expires``, ``expires_in``, ``scope``,
``domain``, ``server_endpoint``, ``client_endpoint``, ``member_id``, ``user_id``, ``status``
and ``application_token`` ([D] api-reference/events/index.md, reference §8). Here the control
plane (``POST /_sim/apps/<client_id>/install``) or the automation page plays the
administrator: :func:`install_app` issues the tokens for the installing administrator and
posts the event at once, answering with the handler's HTTP status. The handler must be on the
application's own address; the tokens are refreshed at ``/oauth/token/`` like any other
(simulator.oauth).
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
from sqlalchemy import select

from simulator import oauth
from simulator.bizproc import tables
from simulator.core.bus import flatten_form
from simulator.users import get_user

if TYPE_CHECKING:
    from simulator.portal import Simulator


class InstallError(ValueError):
    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description


def install_app(sim: Simulator, client_id: str, handler: str, *, user_id: int = 1,
                session: requests.Session | None = None) -> dict[str, Any]:
    app = oauth.get_app(sim, client_id)
    if app is None:
        raise InstallError("client_id", f"no application {client_id!r} is registered")
    if not isinstance(handler, str) or not handler.startswith(("http://", "https://")):
        raise InstallError("handler", "handler must be the application's install URL")
    if not oauth.redirect_allowed(app, handler):
        raise InstallError("handler", "handler must be on the application's own address")
    with sim.transaction() as ctx:
        admin = get_user(ctx, user_id)
    if admin is None or not admin.is_admin or not admin.active:
        raise InstallError("user_id", "only an active administrator installs applications")
    tokens = oauth.issue_tokens(sim, client_id, user_id, sim.portal_url)
    now = sim.clock.now()
    payload = {"event": "ONAPPINSTALL", "event_handler_id": "0",
               "data": {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "ru"},
               "ts": str(int(now.replace(tzinfo=UTC).timestamp())),
               "auth": {**{k: str(v) for k, v in tokens.items()},
                        "application_token": app["application_token"]}}
    http = session or requests.Session()
    try:
        response = http.post(handler, data=urlencode(flatten_form(payload)), headers={
            "Content-Type": "application/x-www-form-urlencoded"}, timeout=sim.webhook_timeout)
        status: int | None = response.status_code
        error = None if response.status_code < 400 else response.text[:500]
    except requests.RequestException as exc:
        status, error = None, str(exc)
    values = {"handler": handler, "user_id": user_id, "delivery_status": status,
              "installed_at": now}
    installs = tables.installs
    with sim._locked(), sim.engine.begin() as conn:
        found = conn.execute(select(installs.c.id).where(installs.c.client_id == client_id)
                             ).first()
        if found:
            conn.execute(installs.update().where(installs.c.id == found.id).values(**values))
        else:
            conn.execute(installs.insert().values(client_id=client_id, **values))
    return {"client_id": client_id, "handler": handler, "status": status, "error": error,
            "scope": tokens["scope"]}


def installations(sim: Simulator) -> list[dict[str, Any]]:
    with sim.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(tables.installs)
                                              .order_by(tables.installs.c.id)).mappings()]

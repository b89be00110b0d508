"""Which portal the extension serves and how it reaches it.

The default portal's registration (URLs, application token, OAuth client) comes from the
settings and is kept in its ``portal`` row, created on first use (not at start-up: the
tables may not exist before ``flask db upgrade``). Other portals can be registered with
:func:`register_portal`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.models import Portal
from portal_ext.portal.transports import HttpTransport, InProcessTransport, Transport

_STATE = "portal_ext.portal"
# Setting name -> Portal column, for the default portal.
_FROM_SETTINGS = {"PORTAL_NAME": "name", "PORTAL_MODE": "mode", "PORTAL_URL": "base_url",
                  "PORTAL_WEBHOOK_URL": "webhook_url",
                  "PORTAL_APPLICATION_TOKEN": "application_token",
                  "OAUTH_CLIENT_ID": "client_id", "OAUTH_CLIENT_SECRET": "client_secret",
                  "PORTAL_MEMBER_ID": "member_id"}


def _state(app: Flask) -> dict[str, Any]:
    return app.extensions.setdefault(_STATE, {"clients": {}})


def current_portal() -> Portal:
    """The portal this deployment serves by default (from the settings)."""
    state = _state(current_app)
    portal_id = state.get("portal_id")
    portal = db.session.get(Portal, portal_id) if portal_id else None
    if portal is None:
        portal = ensure_portal(current_app.config)
        state["portal_id"] = portal.id
    return portal


def reload_portal_settings(app: Flask) -> None:
    """The default portal's settings changed (a server learned its address): the next
    :func:`current_portal` brings the row in line with them."""
    _state(app).pop("portal_id", None)


def ensure_portal(config: Any) -> Portal:
    """Create the default portal's row, or bring it in line with the settings."""
    portal = db.session.scalars(select(Portal).order_by(Portal.id).limit(1)).first()
    if portal is None:
        portal = Portal(created_at=host_utcnow())
        db.session.add(portal)
    changed = portal.id is None
    for setting, column in _FROM_SETTINGS.items():
        value = config.get(setting)
        if value and getattr(portal, column) != value:
            setattr(portal, column, value)
            changed = True
    if changed:
        db.session.commit()
    return portal


def register_portal(*, now: datetime, **fields: Any) -> Portal:
    """Add a portal (or update the one with the same ``member_id`` or ``base_url``)."""
    unknown = set(fields) - set(_FROM_SETTINGS.values())
    if unknown:
        raise ValueError(f"unknown portal fields: {sorted(unknown)}")
    query = select(Portal)
    if fields.get("member_id"):
        query = query.where(Portal.member_id == fields["member_id"])
    else:
        query = query.where(Portal.base_url == fields.get("base_url", ""))
    portal = db.session.scalars(query.limit(1)).first()
    if portal is None:
        portal = Portal(created_at=now)
        db.session.add(portal)
    for column, value in fields.items():
        setattr(portal, column, value)
    db.session.commit()
    return portal


def portal_for_member(member_id: str | None) -> Portal:
    """The portal an incoming event names by ``auth[member_id]``, else the default portal."""
    if member_id:
        found = db.session.scalars(select(Portal).where(Portal.member_id == member_id)
                                   .limit(1)).first()
        if found is not None:
            return found
    return current_portal()


def client_for(portal: Portal) -> PortalClient:
    """The (cached) client for ``portal``: in-process dispatch or its webhook URL."""
    clients: dict[int, PortalClient] = _state(current_app)["clients"]
    client = clients.get(portal.id)
    if client is None:
        client = PortalClient(_transport(portal, current_app.config))
        clients[portal.id] = client
    return client


def portal_client() -> PortalClient:
    return client_for(current_portal())


def _transport(portal: Portal, config: Any) -> Transport:
    dispatch = config.get("PORTAL_DISPATCH")
    if portal.mode == "simulated" and dispatch is not None:
        return InProcessTransport(dispatch)
    if not portal.webhook_url:
        raise RuntimeError(f"portal {portal.id} has no webhook URL (PORTAL_EXT_PORTAL_WEBHOOK_URL)"
                           " and no in-process dispatch (PORTAL_DISPATCH)")
    return HttpTransport(portal.webhook_url, timeout=float(config["PORTAL_TIMEOUT_SECONDS"]),
                         requests_per_second=float(config["PORTAL_RATE_PER_SECOND"]),
                         request_pool_size=int(config["PORTAL_RATE_POOL"]))


def close_clients(app: Flask) -> None:
    clients: dict[int, PortalClient] = _state(app)["clients"]
    for client in clients.values():
        client.close()
    clients.clear()

"""What every request and every job starts from: the portal, its client, the portal's time and
time zone, and who acts.

One :class:`Context` is built in one place, by one of three functions:

- :func:`here` in a view: the default portal and the request's logged-in user (the API token's
  owner on ``/api``, the session's user on pages);
- :func:`for_portal` in a job or an event handler that has the portal at hand;
- :func:`for_job` in a job that was given a portal's id (None when the portal is gone).

``now`` is the *portal's* time (``portal_ext.portal.clock.portal_now``), read once when the
context is built: every business decision of the request or job (is an absence current, is a
transfer's undo period over) compares with it. Leases, timeouts and stored bookkeeping stamps
use the host's clock instead (``portal_ext.portal.clock.host_utcnow``).

This module and the web layer are the only ones that read the request (tests/test_layering.py):
services receive what they need, the actor included, as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from flask import current_app, g, has_request_context
from flask_login import current_user
from sqlalchemy import select

from portal_ext.absences.cover import PortalLinks
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import portal_now, portal_zone
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for, current_portal


@dataclass(frozen=True)
class Context:
    portal: Portal
    client: PortalClient
    now: datetime  # the portal's time, naive UTC
    tz: tzinfo  # the portal's time zone
    actor: PortalUser | None = None  # who acts (None: the extension itself)

    @property
    def links(self) -> PortalLinks:
        """Links to the portal's own pages (CRM items, tasks)."""
        base = self.portal.base_url or str(current_app.config.get("PORTAL_URL") or "")
        return PortalLinks(base, simulated=self.portal.mode == "simulated")

    def names(self) -> dict[int, str]:
        """Portal user id -> full name, everyone (dismissed people too)."""
        return {p.portal_user_id: p.full_name for p in db.session.scalars(
            select(PortalUser).where(PortalUser.portal_id == self.portal.id))}

    def active_people(self) -> list[PortalUser]:
        return list(db.session.scalars(select(PortalUser).where(
            PortalUser.portal_id == self.portal.id, PortalUser.active.is_(True))
            .order_by(PortalUser.last_name, PortalUser.name, PortalUser.id)))


def for_portal(portal: Portal, *, actor: PortalUser | None = None,
               client: PortalClient | None = None, now: datetime | None = None) -> Context:
    """The context of work on ``portal`` (a job, an event handler); ``now`` defaults to the
    portal's time read now."""
    client = client if client is not None else client_for(portal)
    return Context(portal=portal, client=client, now=now if now is not None else portal_now(client),
                   tz=portal_zone(), actor=actor)


def for_job(portal_id: int, *, actor_id: int | None = None) -> Context | None:
    """The context of a job given ids (the portal's, and the acting user's portal user id);
    None when the portal is gone. An actor no longer known acts as nobody."""
    portal = db.session.get(Portal, portal_id)
    if portal is None:
        return None
    actor = None
    if actor_id is not None:
        actor = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_id == portal.id, PortalUser.portal_user_id == actor_id)
            .limit(1)).first()
    return for_portal(portal, actor=actor)


def here() -> Context:
    """The context of the current request: the default portal, the logged-in user."""
    return for_portal(current_portal(), actor=request_user())


def request_user() -> PortalUser | None:
    """The user the request acts for: the API token's owner, else the session's user."""
    if not has_request_context():
        return None
    api_user = g.get("api_user")
    if isinstance(api_user, PortalUser):
        return api_user
    if current_user and current_user.is_authenticated:
        user = current_user._get_current_object()
        return user if isinstance(user, PortalUser) else None
    return None

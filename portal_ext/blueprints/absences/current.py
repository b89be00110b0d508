"""What every absence page and API route starts from: the portal, its client and its time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from flask import current_app
from sqlalchemy import select

from portal_ext.absences.cover import PortalLinks
from portal_ext.absences.models import Absence
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import portal_now, portal_zone
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for, current_portal


@dataclass
class Here:
    portal: Portal
    client: PortalClient
    now: datetime  # the portal's time, naive UTC
    tz: tzinfo

    @property
    def links(self) -> PortalLinks:
        base = self.portal.base_url or str(current_app.config.get("PORTAL_URL") or "")
        return PortalLinks(base, simulated=self.portal.mode == "simulated")

    def absence(self, absence_id: int) -> Absence | None:
        found = db.session.get(Absence, absence_id)
        return found if found is not None and found.portal_id == self.portal.id else None

    def names(self) -> dict[int, str]:
        """Portal user id -> full name, everyone (dismissed people too)."""
        return {p.portal_user_id: p.full_name for p in db.session.scalars(
            select(PortalUser).where(PortalUser.portal_id == self.portal.id))}

    def active_people(self) -> list[PortalUser]:
        return list(db.session.scalars(select(PortalUser).where(
            PortalUser.portal_id == self.portal.id, PortalUser.active.is_(True))
            .order_by(PortalUser.last_name, PortalUser.name, PortalUser.id)))


def here() -> Here:
    portal = current_portal()
    client = client_for(portal)
    return Here(portal, client, portal_now(client), portal_zone())

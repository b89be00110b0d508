"""Lead distribution's reaction to the portal: a new lead gets a visit task for a field
representative (in-process and over REST alike), once switched on in the settings."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from portal_ext.distribution.services import create_visit_task
from portal_ext.events.handlers import handles
from portal_ext.events.portal_event import PortalEvent
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal


def report_url(lead_id: int) -> str:
    base = str(current_app.config.get("EXTENSION_URL") or current_app.config["PORTAL_URL"])
    return f"{base.rstrip('/')}/distribution/reports/new?lead_id={lead_id}"


@handles("ONCRMLEADADD")
def lead_added(event: PortalEvent, *, portal: Portal, client: PortalClient,
               now: datetime) -> None:
    if event.entity_id is None:
        return
    create_visit_task(portal=portal, client=client, now=now, lead_id=event.entity_id,
                      report_url=report_url(event.entity_id), created_at=event.time())

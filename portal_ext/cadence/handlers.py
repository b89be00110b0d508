"""The portal's events that keep the cadence's read model (portal_ext.cadence.services):

- activities added, changed or deleted: their contacts are replaced and the companies they
  count for refreshed (in-process events carry the activity; over REST it is read back);
- companies added or changed (title, responsible, category) or deleted;
- contacts, deals and leads whose company changes: the contacts bound to them move with them.
  These come over webhooks and the offline queue only: in-process, a deal or contact change
  needs no job of its own (the other domains rely on that), so an activity bound to an item
  the read model does not know yet reads the item's company on the spot, and the nightly
  resync catches an item that changed company.

Nothing happens until an administrator has saved the cadence settings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal_ext.cadence import services
from portal_ext.cadence.rules import CONTACT, DEAL, LEAD
from portal_ext.events.handlers import handles
from portal_ext.events.portal_event import PortalEvent
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import portal_zone
from portal_ext.portal.models import Portal

_LINKED = {"CONTACT": (CONTACT, "crm.contact.get"), "DEAL": (DEAL, "crm.deal.get"),
           "LEAD": (LEAD, "crm.lead.get")}


def _read_activity(client: PortalClient, activity_id: int) -> dict[str, Any] | None:
    rows = client.call("crm.activity.list", {"filter": {"ID": activity_id},
                                             "select": services.ACTIVITY_SELECT})
    return rows[0] if rows else None


@handles("ONCRMACTIVITYADD", "ONCRMACTIVITYUPDATE", "ONCRMACTIVITYDELETE")
def activity_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                     now: datetime) -> None:
    if event.entity_id is None or not services.configured(portal.id):
        return
    activity = None
    if not event.name.endswith("DELETE"):
        activity = event.after if event.after is not None else _read_activity(
            client, event.entity_id)
    tz = portal_zone()
    services.apply_activity(portal_id=portal.id, activity_id=event.entity_id,
                            activity=activity, today=now.date(), tz=tz, client=client)


@handles("ONCRMCOMPANYADD", "ONCRMCOMPANYUPDATE", "ONCRMCOMPANYDELETE")
def company_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                    now: datetime) -> None:
    if event.entity_id is None or not services.configured(portal.id):
        return
    company = None
    if not event.name.endswith("DELETE"):
        company = event.after if event.after is not None else client.call(
            "crm.company.get", {"id": event.entity_id})
    services.apply_company(portal_id=portal.id, company=company, company_id=event.entity_id,
                           tz=portal_zone())


@handles("ONCRMCONTACTADD", "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE",
         "ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE",
         "ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE", sources=("webhook", "offline"))
def link_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                 now: datetime) -> None:
    kind = next((k for k in _LINKED if event.name.startswith(f"ONCRM{k}")), None)
    if event.entity_id is None or kind is None or not services.configured(portal.id):
        return
    type_id, getter = _LINKED[kind]
    company_id = None
    if not event.name.endswith("DELETE"):
        item = event.after if event.after is not None else client.call(
            getter, {"id": event.entity_id})
        company_id = services._int((item or {}).get("COMPANY_ID")) or None
    services.apply_link(portal_id=portal.id, entity_type_id=type_id,
                        entity_id=event.entity_id, company_id=company_id, tz=portal_zone())

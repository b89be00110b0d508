"""The stage robots' reactions to the portal's lead and deal events.

- In-process (``ONCRMLEADADD``/``UPDATE``, ``ONCRMDEALADD``/``UPDATE`` with the item before and
  after): the stage the item entered fires its robots (services.on_item_change).
- Over REST (the event carries only the id): the item's stage history is read and every entry
  not fired yet fires (services.on_item_event); the periodic catch-up reads it too.
"""

from __future__ import annotations

from datetime import datetime

from portal_ext.context import for_portal
from portal_ext.events.handlers import handles
from portal_ext.events.portal_event import PortalEvent
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal
from portal_ext.robots import services

_ENTITY = {"ONCRMLEADADD": "lead", "ONCRMLEADUPDATE": "lead", "ONCRMDEALADD": "deal",
           "ONCRMDEALUPDATE": "deal"}


@handles(*_ENTITY, sources=("inprocess",))
def stage_entered(event: PortalEvent, *, portal: Portal, client: PortalClient,
                  now: datetime) -> None:
    if not isinstance(event.after, dict):
        return
    ctx = for_portal(portal, client=client, now=now)
    services.on_item_change(ctx, entity=_ENTITY[event.name], before=event.before,
                            after=event.after, when=event.time())


@handles(*_ENTITY, sources=("webhook", "offline"))
def stage_history_read(event: PortalEvent, *, portal: Portal, client: PortalClient,
                       now: datetime) -> None:
    if event.entity_id is None:
        return
    ctx = for_portal(portal, client=client, now=now)
    services.on_item_event(ctx, entity=_ENTITY[event.name], item_id=event.entity_id)

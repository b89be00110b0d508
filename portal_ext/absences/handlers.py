"""Portal events about the absence chart (registered with portal_ext.events.handlers).

In-process the portal announces each chart change with the entry itself (``ONABSENCEADD``,
``ONABSENCEUPDATE`` with ``after``; ``ONABSENCEDELETE`` with ``before``). Over REST only the
calendar events may arrive (``ONCALENDARENTRY*`` with ``data: {id}`` and no user), so they just
make the next tick read the chart (portal_ext.absences.chart_import).

``now`` is the portal's time (event processing reads it once per batch, portal_ext.context).
"""

from __future__ import annotations

from datetime import datetime

from portal_ext.absences.chart_import import (
    ask_for_poll,
    entry_from_event,
    import_entry,
    remove_entry,
)
from portal_ext.events.handlers import handles
from portal_ext.events.portal_event import PortalEvent, as_int
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal


@handles("ONABSENCEADD", "ONABSENCEUPDATE")
def chart_entry_saved(event: PortalEvent, *, portal: Portal, client: PortalClient,
                      now: datetime) -> None:
    entry = entry_from_event(event.after)
    if entry is None:
        # Without the entry (not an in-process event): read the whole chart instead.
        ask_for_poll(portal.id)
        return
    import_entry(portal_id=portal.id, entry=entry, now=now)


@handles("ONABSENCEDELETE")
def chart_entry_deleted(event: PortalEvent, *, portal: Portal, client: PortalClient,
                        now: datetime) -> None:
    entry_id = event.entity_id or as_int((event.before or {}).get("ID"))
    if entry_id is None:
        ask_for_poll(portal.id)
        return
    remove_entry(portal_id=portal.id, entry_id=entry_id, client=client)


# In-process, the entry's ONABSENCE* twin carries it.
@handles("ONCALENDARENTRYADD", "ONCALENDARENTRYUPDATE", "ONCALENDARENTRYDELETE",
         sources=("webhook", "offline"))
def calendar_entry_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                           now: datetime) -> None:
    ask_for_poll(portal.id)

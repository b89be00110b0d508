"""Where dismissals come from (registered with portal_ext.events.handlers and the directory).

- In-process, the portal publishes ``ONUSERUPDATE`` with the user before and after; ``ACTIVE``
  turning from true to false is a dismissal.
- Over REST no event tells of a dismissal (real portals send none), so the directory's sync
  notices the user going inactive and sends ``portal_ext.signals.user_dismissed``. The signal
  comes in-process too (the directory re-reads the user on the event): recording is
  idempotent, one dismissal stays one.
- An absence in the chart may start an automatic change of responsible: its events make the
  policy act soon after, instead of at the next tick.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal_ext import signals
from portal_ext.directory.models import PortalUser
from portal_ext.events.handlers import handles
from portal_ext.events.portal_event import PortalEvent
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal
from portal_ext.transfers.dismissals import record_dismissal, request_action
from portal_ext.transfers.models import EVENT


def _active(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().upper() in ("Y", "TRUE", "1")


@handles("ONUSERUPDATE")
def user_updated(event: PortalEvent, *, portal: Portal, client: PortalClient,
                 now: datetime) -> None:
    before = _active((event.before or {}).get("ACTIVE"))
    after = _active((event.after or {}).get("ACTIVE"))
    if event.entity_id is not None and before is True and after is False:
        record_dismissal(portal_id=portal.id, user_id=event.entity_id, now=now, source=EVENT)


@signals.user_dismissed.connect
def user_dismissed(portal: Portal, *, user: PortalUser, now: datetime, source: str) -> None:
    record_dismissal(portal_id=portal.id, user_id=user.portal_user_id, now=now, source=source)


@handles("ONABSENCEADD", "ONABSENCEUPDATE", "ONABSENCEDELETE")
def absence_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                    now: datetime) -> None:
    request_action(portal.id)

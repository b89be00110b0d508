"""Where notifications come from, as one shape (:class:`Notice`), in either mode.

In-process (the extension beside the portal): the portal publishes every notification it puts
in a user's inbox as ``ONIMNOTIFYADD`` with the whole notification; :func:`from_inprocess`
reads it. Every kind the portal sends is covered.

Over REST the portal sends no event when it notifies someone, so the notifications are derived
from the events it does send (portal_ext.notifications.derived), covering:

======================  ================================================  ==================
kind                    derived from                                      portal call
======================  ================================================  ==================
crm_assigned            ONCRM{LEAD,DEAL,CONTACT,COMPANY}ADD/UPDATE when   crm.<type>.get
                        the responsible changed (snapshot per item)
task_assigned           ONTASKADD/UPDATE when the responsible changed     tasks.task.get
email_incoming          ONCRMACTIVITYADD of an incoming e-mail            crm.activity.list
task_comment            ONTASKCOMMENTADD (to responsible and creator)     task.commentitem.get
task_deadline_soon      the periodic check: an open task due within the   tasks.task.list
                        next hour by the portal's clock
task_overdue            the same check: due within the last day
message                 not derivable (another app's im.notify): none
======================  ================================================  ==================

Copies the extension made itself are never copied again: in-process they are recognised by
their tag (``portal_ext:copy:<delivery id>``); over REST they produce no event at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from portal_ext.events.portal_event import PortalEvent, as_int
from portal_ext.notifications.kinds import team_kind
from portal_ext.portal.clock import parse_portal_time

OWN_TAG_PREFIX = "portal_ext:"
COPY_TAG_PREFIX = f"{OWN_TAG_PREFIX}copy:"
SUMMARY_TAG_PREFIX = f"{OWN_TAG_PREFIX}summary:"
# Notices no person's action caused: the portal's own timers send them (the in-process event
# names the administrator as the acting user, which would wrongly exclude them).
TIME_DRIVEN = frozenset({"task_deadline_soon", "task_overdue"})


Phrase = tuple[str, tuple[tuple[str, str], ...]]  # (English msgid, ((name, value), ...))


@dataclass(frozen=True)
class Notice:
    """One notification meant for ``owner_id``.

    ``key`` identifies it across re-processing: the portal's notification id in-process,
    or what it was derived from over REST (e.g. ``email_incoming:activity:12``).
    """

    key: str
    owner_id: int
    portal_kind: str
    message: str
    at: datetime  # when it was sent (naive UTC, the portal's clock)
    notification_id: int | None = None
    entity_type: str | None = None
    entity_id: int | None = None
    actor_id: int | None = None
    title: str | None = None
    # A notice the extension derived itself (REST mode) also keeps its words as a phrase of
    # the catalogue and its values, so each copy can say it in its reader's language; None:
    # the portal's own words (``message``), copied as they are.
    phrase: Phrase | None = None

    @property
    def kind(self) -> str:
        """The team kind (portal_ext.notifications.kinds)."""
        return team_kind(self.portal_kind, self.entity_type)


def is_copy(tag: Any) -> bool:
    """Sent by the extension itself: a copy, or a summary of a mass move (any tag of the
    ``portal_ext:`` family)."""
    return isinstance(tag, str) and tag.startswith(OWN_TAG_PREFIX)


def copy_tag(delivery_id: int) -> str:
    """The tag a copy is sent with: the portal replaces an earlier notification with the same
    tag (im.notify.system.add, ``TAG``), so sending a copy again never shows it twice."""
    return f"{COPY_TAG_PREFIX}{delivery_id}"


def event_time(event: PortalEvent) -> datetime | None:
    """The event's ``ts`` (Unix seconds of the portal's clock) as naive UTC."""
    return event.time()


def from_inprocess(event: PortalEvent, *, now: datetime) -> Notice | None:
    """The notification an in-process ``ONIMNOTIFYADD`` carries, or None for one of our own
    copies or a malformed event."""
    after = event.after
    if not isinstance(after, dict) or is_copy(after.get("tag")):
        return None
    owner_id = as_int(after.get("user_id"))
    notification_id = as_int(after.get("id"))
    if owner_id is None or notification_id is None:
        return None
    portal_kind = str(after.get("kind") or "message")
    actor = as_int(after.get("from_user_id"))
    if actor is None and portal_kind not in TIME_DRIVEN:
        actor = event.actor_id
    at = parse_portal_time(after.get("created_at")) or event_time(event) or now
    return Notice(key=f"notification:{notification_id}", owner_id=owner_id,
                  portal_kind=portal_kind, message=str(after.get("message") or ""), at=at,
                  notification_id=notification_id,
                  entity_type=(str(after["entity_type"]).upper()
                               if after.get("entity_type") else None),
                  entity_id=as_int(after.get("entity_id")), actor_id=actor)

"""The deadline guard's reactions to portal events.

- ``ONBEFORETASKUPDATE`` (in-process): the on-site veto. A postponement the policy does not
  let through is refused with a message in the person's language; the decision reads only the
  extension's indexed tables and never calls the portal. If the extension's database fails,
  the change goes through (logged): the portal never hangs on the guard.
- ``ONTASKUPDATE`` (in-process, with the task before and after): the audit of a deadline
  change that went through.
- ``ONTASKADD``/``ONTASKUPDATE`` over REST (webhook, offline queue; the id only): the task is
  marked to be read and compared with its snapshot by the sweep (deadlines.detection).
"""

from __future__ import annotations

import logging
from datetime import datetime

from portal_ext import jobs
from portal_ext.deadlines import detection, services, tasks
from portal_ext.events.handlers import Veto, before, handles
from portal_ext.events.portal_event import PortalEvent
from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)


@before("ONBEFORETASKUPDATE")
def deadline_veto(event: PortalEvent, *, portal: Portal, now: datetime) -> None:
    if event.entity_id is None:
        return
    try:
        message = services.guard_update(portal, task_id=event.entity_id,
                                        actor_id=event.actor_id, before=event.before,
                                        after=event.after, now=now)
    except Exception:  # fail open: the portal's change must never wait on the guard
        log.exception("deadline guard: task %s let through, the decision failed",
                      event.entity_id)
        db.session.rollback()
        return
    if message is not None:
        raise Veto(message)


@handles("ONTASKUPDATE", sources=("inprocess",))
def audit_deadline_change(event: PortalEvent, *, portal: Portal, client: PortalClient,
                          now: datetime) -> None:
    if event.entity_id is None:
        return
    services.record_direct_change(portal, task_id=event.entity_id, actor_id=event.actor_id,
                                  before=event.before, after=event.after, now=now)


@handles("ONTASKADD", "ONTASKUPDATE", sources=("webhook", "offline"))
def detect_deadline_change(event: PortalEvent, *, portal: Portal, client: PortalClient,
                           now: datetime) -> None:
    """Over REST: the event carries only the id. Mark the task to be read and compared with
    its snapshot; the sweep (after this commit) reads it and reverts what breaks the policy."""
    if event.entity_id is None or not detection.guards_over_rest(portal):
        return
    detection.mark_pending(portal, event.entity_id, at=host_utcnow())
    jobs.enqueue_after_commit(tasks.sweep_portal, portal.id, once=tasks.SWEEP_QUEUED)

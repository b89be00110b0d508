"""REST mode: the portal's notifications, derived from the events it does send.

A cloud portal publishes no event when it notifies a user, so each function below re-reads the
object an event names (events carry only the id, api-reference/events/index.md) and works out
which notice the portal has just sent, to whom, in the portal's own words (the texts mirror the
portal's, so a copy reads the same in both modes). The table of what is covered is in
portal_ext.notifications.sources.

A portal call that fails because the object is gone (deleted since) derives nothing; any other
failure propagates, so the inbox retries the event.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from portal_ext.events.portal_event import PortalEvent, as_int
from portal_ext.extensions import db
from portal_ext.notifications.models import ResponsibleSnapshot
from portal_ext.notifications.sources import Notice, Phrase, event_time
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import parse_portal_time
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)

def N_(msgid: str) -> str:
    """Marks a phrase for the catalogue; it is translated when a copy is written."""
    return msgid


def _phrase(msgid: str, **values: str) -> tuple[str, Phrase]:
    """The English message and the phrase it came from (see ``Notice.phrase``)."""
    return msgid % values, (msgid, tuple(values.items()))


# The nouns below, for the catalogue (a copy names the item in its reader's language).
NOUNS = (N_("lead"), N_("deal"), N_("contact"), N_("company"), N_("quote"), N_("invoice"))

# entity -> (get method, the portal's noun, its page); crm.item.* types by entityTypeId.
CRM_ITEMS: dict[str, tuple[str, str, str]] = {
    "LEAD": ("crm.lead.get", "lead", "/crm/lead/details/{id}/"),
    "DEAL": ("crm.deal.get", "deal", "/crm/deal/details/{id}/"),
    "CONTACT": ("crm.contact.get", "contact", "/crm/contact/details/{id}/"),
    "COMPANY": ("crm.company.get", "company", "/crm/company/details/{id}/"),
}
CRM_EVENTS: tuple[str, ...] = tuple(f"ONCRM{entity}{action}" for entity in CRM_ITEMS
                                    for action in ("ADD", "UPDATE"))
OWNER_TYPES = {1: "LEAD", 2: "DEAL", 3: "CONTACT", 4: "COMPANY"}
SMART_TYPES = {7: ("QUOTE", "quote", "/crm/type/7/details/{id}/"),
               31: ("SMART_INVOICE", "invoice", "/crm/type/31/details/{id}/")}
TASK_SELECT = ["ID", "TITLE", "RESPONSIBLE_ID", "CREATED_BY", "CHANGED_BY", "DEADLINE", "STATUS"]
ACTIVITY_SELECT = ["ID", "TYPE_ID", "DIRECTION", "OWNER_TYPE_ID", "OWNER_ID", "SUBJECT",
                   "COMMUNICATIONS"]
OPEN_STATUSES = (2, 3)
# The portal warns an hour before a deadline (simulator/ticks.py documents the choice) and
# once it has passed; the check looks one day back for deadlines passed while it was down.
DEADLINE_SOON = timedelta(hours=1)
OVERDUE_LOOKBACK = timedelta(days=1)
_GONE = ("not found", "access denied", "action failed")


def _gone(error: PortalError) -> bool:
    text = f"{error.code} {error.description}".lower()
    return error.status == 404 or any(word in text for word in _GONE)


def _get(client: PortalClient, method: str, params: dict[str, Any]) -> Any:
    try:
        return client.call(method, params)
    except PortalError as error:
        if _gone(error):
            log.info("%s %s: the object is gone (%s)", method, params, error)
            return None
        raise


def _responsible_changed(portal: Portal, entity_type: str, entity_id: int,
                         responsible: int | None, *, created: bool, now: datetime) -> bool:
    """Remember the responsible; True if this is a change (or a new item's first one)."""
    snapshot = db.session.scalars(select(ResponsibleSnapshot).where(
        ResponsibleSnapshot.portal_id == portal.id,
        ResponsibleSnapshot.entity_type == entity_type,
        ResponsibleSnapshot.entity_id == entity_id)).first()
    if snapshot is None:
        db.session.add(ResponsibleSnapshot(portal_id=portal.id, entity_type=entity_type,
                                           entity_id=entity_id,
                                           responsible_portal_user_id=responsible, seen_at=now))
        # An item first seen in an update existed before we watched: its responsible may
        # be old news, so only a creation counts.
        return created
    if snapshot.responsible_portal_user_id == responsible:
        return False
    snapshot.responsible_portal_user_id = responsible
    snapshot.seen_at = now
    return True


def _title(entity_type: str, item: dict[str, Any], item_id: int) -> str:
    if entity_type == "CONTACT":
        name = " ".join(str(item.get(k) or "") for k in ("NAME", "LAST_NAME")).strip()
        return name or f"Contact #{item_id}"
    return str(item.get("TITLE") or item.get("title") or f"#{item_id}")


def crm_assignment(event: PortalEvent, *, portal: Portal, client: PortalClient,
                   now: datetime) -> list[Notice]:
    """ONCRM<TYPE>ADD/UPDATE -> "You have been made responsible for the lead ..." """
    entity_type = event.name[len("ONCRM"):].removesuffix("ADD").removesuffix("UPDATE")
    if entity_type not in CRM_ITEMS or event.entity_id is None:
        return []
    method, noun, page = CRM_ITEMS[entity_type]
    item = _get(client, method, {"id": event.entity_id})
    if not isinstance(item, dict):
        return []
    created = event.name.endswith("ADD")
    responsible = as_int(item.get("ASSIGNED_BY_ID"))
    if not _responsible_changed(portal, entity_type, event.entity_id, responsible,
                                created=created, now=now) or responsible is None:
        return []
    actor = as_int(item.get("CREATED_BY_ID" if created else "MODIFY_BY_ID"))
    if actor == responsible:  # the portal tells nobody they assigned something to themselves
        return []
    title = _title(entity_type, item, event.entity_id)
    message, phrase = _phrase(N_('You have been made responsible for the %(noun)s "%(title)s"'),
                              noun=noun,
                              title=f"[URL={page.format(id=event.entity_id)}]{title}[/URL]")
    return [Notice(key=f"crm_assigned:{entity_type}:{event.entity_id}:{responsible}:{event.ts}",
                   owner_id=responsible, portal_kind="crm_assigned", message=message,
                   at=event_time(event) or now, entity_type=entity_type,
                   entity_id=event.entity_id, actor_id=actor, title=title, phrase=phrase)]


def _task(client: PortalClient, task_id: int) -> dict[str, Any] | None:
    answer = _get(client, "tasks.task.get", {"taskId": task_id, "select": TASK_SELECT})
    task = answer.get("task") if isinstance(answer, dict) else None
    return task if isinstance(task, dict) else None


def task_assignment(event: PortalEvent, *, portal: Portal, client: PortalClient,
                    now: datetime) -> list[Notice]:
    """ONTASKADD/UPDATE -> "You have been assigned the task ..." """
    if event.entity_id is None:
        return []
    task = _task(client, event.entity_id)
    if task is None:
        return []
    created = event.name == "ONTASKADD"
    responsible = as_int(task.get("responsibleId"))
    if not _responsible_changed(portal, "TASK", event.entity_id, responsible, created=created,
                                now=now) or responsible is None:
        return []
    actor = as_int(task.get("createdBy" if created else "changedBy"))
    if actor == responsible:
        return []
    title = str(task.get("title") or f"#{event.entity_id}")
    message, phrase = _phrase(N_('You have been assigned the task "%(title)s"'), title=title)
    return [Notice(key=f"task_assigned:{event.entity_id}:{responsible}:{event.ts}",
                   owner_id=responsible, portal_kind="task_assigned", message=message,
                   at=event_time(event) or now, entity_type="TASK", entity_id=event.entity_id,
                   actor_id=actor, title=title, phrase=phrase)]


def _owner_item(client: PortalClient, type_id: int, item_id: int
                ) -> tuple[str, str, str, dict[str, Any]] | None:
    """(entity type, noun, page, fields with ASSIGNED_BY_ID and TITLE) of an activity's owner."""
    if type_id in OWNER_TYPES:
        entity_type = OWNER_TYPES[type_id]
        method, noun, page = CRM_ITEMS[entity_type]
        item = _get(client, method, {"id": item_id})
        return (entity_type, noun, page, item) if isinstance(item, dict) else None
    if type_id in SMART_TYPES:
        entity_type, noun, page = SMART_TYPES[type_id]
        answer = _get(client, "crm.item.get", {"entityTypeId": type_id, "id": item_id})
        item = answer.get("item") if isinstance(answer, dict) else None
        if not isinstance(item, dict):
            return None
        return entity_type, noun, page, {"ASSIGNED_BY_ID": item.get("assignedById"),
                                         "TITLE": item.get("title")}
    return None


def incoming_email(event: PortalEvent, *, portal: Portal, client: PortalClient,
                   now: datetime) -> list[Notice]:
    """ONCRMACTIVITYADD of an incoming e-mail -> "New incoming e-mail ..." to the responsible
    of the item the e-mail belongs to."""
    if event.entity_id is None:
        return []
    # crm.activity.list, not .get: the sender's address (COMMUNICATIONS) comes back only when
    # selected by name (api-reference/crm/timeline/activities/activity-base/crm-activity-list).
    found = _get(client, "crm.activity.list", {"filter": {"ID": event.entity_id},
                                               "select": ACTIVITY_SELECT})
    activity = found[0] if isinstance(found, list) and found else None
    if not isinstance(activity, dict) or as_int(activity.get("TYPE_ID")) != 4 \
            or as_int(activity.get("DIRECTION")) != 1:
        return []
    type_id, item_id = as_int(activity.get("OWNER_TYPE_ID")), as_int(activity.get("OWNER_ID"))
    if type_id is None or item_id is None:
        return []
    found = _owner_item(client, type_id, item_id)
    if found is None:
        return []
    entity_type, noun, page, item = found
    owner = as_int(item.get("ASSIGNED_BY_ID"))
    if owner is None:
        return []
    communications = activity.get("COMMUNICATIONS") or []
    sender = next((str(c.get("VALUE")) for c in communications
                   if isinstance(c, dict) and c.get("VALUE")), "")
    title = _title(entity_type, item, item_id)
    values = {"subject": str(activity.get("SUBJECT") or ""), "noun": noun,
              "title": f"[URL={page.format(id=item_id)}]{title}[/URL]"}
    if sender:
        message, phrase = _phrase(N_('New incoming e-mail "%(subject)s" from %(sender)s for '
                                     'the %(noun)s "%(title)s"'), sender=sender, **values)
    else:
        message, phrase = _phrase(N_('New incoming e-mail "%(subject)s" for the %(noun)s '
                                     '"%(title)s"'), **values)
    return [Notice(key=f"email_incoming:activity:{event.entity_id}", owner_id=owner,
                   portal_kind="email_incoming", message=message, at=event_time(event) or now,
                   entity_type=entity_type, entity_id=item_id, title=title, phrase=phrase)]


def task_comment(event: PortalEvent, *, portal: Portal, client: PortalClient,
                 now: datetime) -> list[Notice]:
    """ONTASKCOMMENTADD -> "New comment on the task ..." to its responsible and creator,
    never to the comment's author."""
    fields = event.data.get("FIELDS_AFTER") if isinstance(event.data, dict) else None
    fields = fields if isinstance(fields, dict) else {}
    comment_id, task_id = as_int(fields.get("ID")), as_int(fields.get("TASK_ID"))
    if comment_id is None or task_id is None:
        return []
    comment = _get(client, "task.commentitem.get", {"TASKID": task_id, "ITEMID": comment_id})
    task = _task(client, task_id) if isinstance(comment, dict) else None
    if task is None or not isinstance(comment, dict):
        return []
    author = as_int(comment.get("AUTHOR_ID"))
    text = str(comment.get("POST_MESSAGE") or "")
    excerpt = text if len(text) <= 200 else text[:197] + "..."
    title = str(task.get("title") or f"#{task_id}")
    owners = dict.fromkeys(u for u in (as_int(task.get("responsibleId")),
                                       as_int(task.get("createdBy"))) if u is not None)
    message, phrase = _phrase(N_('New comment on the task "%(title)s": %(excerpt)s'),
                              title=title, excerpt=excerpt)
    return [Notice(key=f"task_comment:{comment_id}:{owner}", owner_id=owner,
                   portal_kind="task_comment", message=message,
                   at=event_time(event) or now, entity_type="TASK", entity_id=task_id,
                   actor_id=author, title=title, phrase=phrase)
            for owner in owners if owner != author]


def due_tasks(*, client: PortalClient, now: datetime, iso: Any) -> list[Notice]:
    """The periodic check: open tasks whose deadline is within the next hour ("deadline
    soon") or passed within the last day ("overdue"), by the portal's clock ``now``.
    ``iso(datetime)`` writes a time as the portal expects it in a filter."""
    rows = client.list_all("tasks.task.list", {
        "filter": {">=DEADLINE": iso(now - OVERDUE_LOOKBACK),
                   "<=DEADLINE": iso(now + DEADLINE_SOON), "REAL_STATUS": list(OPEN_STATUSES)},
        "select": ["ID", "TITLE", "RESPONSIBLE_ID", "DEADLINE", "STATUS"]})
    notices: list[Notice] = []
    for task in rows:
        task_id, owner = as_int(task.get("id")), as_int(task.get("responsibleId"))
        deadline = parse_portal_time(task.get("deadline"))
        if task_id is None or owner is None or deadline is None \
                or as_int(task.get("status")) not in OPEN_STATUSES:
            continue
        title = str(task.get("title") or f"#{task_id}")
        due = str(task.get("deadline"))
        if deadline > now:
            kind = "task_deadline_soon"
            message, phrase = _phrase(N_('The deadline of the task "%(title)s" is near: '
                                         '%(deadline)s'), title=title, deadline=due)
        else:
            kind = "task_overdue"
            message, phrase = _phrase(N_('The task "%(title)s" is overdue: its deadline was '
                                         '%(deadline)s'), title=title, deadline=due)
        notices.append(Notice(key=f"{kind}:{task_id}:{deadline.isoformat()}", owner_id=owner,
                              portal_kind=kind, message=message, at=now, entity_type="TASK",
                              entity_id=task_id, title=title, phrase=phrase))
    return notices

"""The cover list: what a deputy has to look after while a colleague is away.

Read from the portal at the moment it is asked for (nothing is copied):

- activities of the absent user still open and due by the end of the absence (overdue ones
  included: they are the most urgent), from ``crm.activity.list`` (COMPLETED=N);
- their tasks open and due by the end of the absence, from ``tasks.task.list`` (statuses new,
  waiting, in progress and deferred; 4 "awaiting control" is the creator's move, 5 is done);
- open leads assigned to them, or changed, since the absence began (``crm.lead.list`` with
  ``>=DATE_MODIFY``; a lead handed to them appears here, however old it is);
- incoming e-mails to them since the absence began (``crm.activity.list`` TYPE_ID 4 e-mail,
  DIRECTION 1 incoming).

Each item links to its page on the portal: the simulator's own pages under ``/portal/`` in
simulated mode, the portal's URL patterns otherwise (``/crm/lead/details/<id>/``,
``/company/personal/user/<user>/tasks/task/view/<id>/``). An activity links to the CRM item
it belongs to, since activities have no page of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from portal_ext.absences.models import Absence
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import parse_portal_time

EMAIL, INCOMING = 4, 1
OPEN_TASK_STATUSES = [1, 2, 3, 6]
CLOSED_LEAD_STATUSES = ["CONVERTED", "JUNK"]
LIMIT = 200  # per section: a cover list longer than that is read on the portal itself

# entity type id -> (simulator page slug, portal URL pattern)
CRM_PAGES = {
    1: ("leads", "/crm/lead/details/{id}/"), 2: ("deals", "/crm/deal/details/{id}/"),
    3: ("contacts", "/crm/contact/details/{id}/"), 4: ("companies", "/crm/company/details/{id}/"),
    7: ("quotes", "/crm/quote/show/{id}/"), 31: ("invoices", "/crm/type/31/details/{id}/"),
}


@dataclass(frozen=True)
class PortalLinks:
    base_url: str
    simulated: bool

    def crm(self, type_id: int, item_id: int) -> str | None:
        page = CRM_PAGES.get(type_id)
        if page is None or not item_id:
            return None
        base = self.base_url.rstrip("/")
        if self.simulated:
            return f"{base}/portal/crm/{page[0]}/{item_id}"
        return base + page[1].format(id=item_id)

    def task(self, task_id: int, responsible_id: int) -> str:
        base = self.base_url.rstrip("/")
        if self.simulated:
            return f"{base}/portal/tasks/{task_id}"
        return f"{base}/company/personal/user/{responsible_id}/tasks/task/view/{task_id}/"


@dataclass(frozen=True)
class CoverItem:
    kind: str  # activity | task | lead | email
    id: int
    title: str
    when: datetime | None  # naive UTC: deadline, or when it arrived
    link: str | None
    overdue: bool = False

    def as_dict(self, iso: Any) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "title": self.title, "when": iso(self.when),
                "link": self.link, "overdue": self.overdue}


@dataclass
class CoverList:
    activities: list[CoverItem] = field(default_factory=list)
    tasks: list[CoverItem] = field(default_factory=list)
    leads: list[CoverItem] = field(default_factory=list)
    emails: list[CoverItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.activities) + len(self.tasks) + len(self.leads) + len(self.emails)

    def sections(self) -> dict[str, list[CoverItem]]:
        return {"activities": self.activities, "tasks": self.tasks, "leads": self.leads,
                "emails": self.emails}


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=UTC).isoformat(timespec="seconds")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _take(client: PortalClient, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for row in client.iter_all(method, params):
        rows.append(row)
        if len(rows) >= LIMIT:
            break
    return rows


def build_cover_list(*, client: PortalClient, absence: Absence, now: datetime,
                     links: PortalLinks) -> CoverList:
    """Read the absent user's due work, new leads and incoming e-mail from the portal."""
    user = absence.user_id
    since, until = _iso(absence.start), _iso(absence.end)
    received_until = _iso(min(absence.end, now)) if now > absence.start else since
    cover = CoverList()
    for row in _take(client, "crm.activity.list", {
            "filter": {"RESPONSIBLE_ID": user, "COMPLETED": "N", "<=DEADLINE": until},
            "select": ["ID", "SUBJECT", "DEADLINE", "OWNER_TYPE_ID", "OWNER_ID", "TYPE_ID",
                       "DIRECTION"]}):
        if _int(row.get("TYPE_ID")) == EMAIL and _int(row.get("DIRECTION")) == INCOMING:
            continue  # listed with the e-mails
        due = parse_portal_time(row.get("DEADLINE"))
        cover.activities.append(CoverItem(
            "activity", _int(row.get("ID")), str(row.get("SUBJECT") or ""), due,
            links.crm(_int(row.get("OWNER_TYPE_ID")), _int(row.get("OWNER_ID"))),
            overdue=due is not None and due < now))
    for row in _take(client, "tasks.task.list", {
            "filter": {"RESPONSIBLE_ID": user, "<=DEADLINE": until,
                       "REAL_STATUS": OPEN_TASK_STATUSES},
            "select": ["ID", "TITLE", "DEADLINE", "RESPONSIBLE_ID", "STATUS"]}):
        due = parse_portal_time(row.get("deadline"))
        task_id = _int(row.get("id"))
        cover.tasks.append(CoverItem("task", task_id, str(row.get("title") or ""), due,
                                     links.task(task_id, user),
                                     overdue=due is not None and due < now))
    for row in _take(client, "crm.lead.list", {
            "filter": {"ASSIGNED_BY_ID": user, ">=DATE_MODIFY": since,
                       "!STATUS_ID": CLOSED_LEAD_STATUSES},
            "select": ["ID", "TITLE", "DATE_CREATE", "DATE_MODIFY", "STATUS_ID"]}):
        lead_id = _int(row.get("ID"))
        cover.leads.append(CoverItem("lead", lead_id, str(row.get("TITLE") or ""),
                                     parse_portal_time(row.get("DATE_MODIFY")),
                                     links.crm(1, lead_id)))
    for row in _take(client, "crm.activity.list", {
            "filter": {"RESPONSIBLE_ID": user, "TYPE_ID": EMAIL, "DIRECTION": INCOMING,
                       ">=CREATED": since, "<=CREATED": received_until},
            "select": ["ID", "SUBJECT", "CREATED", "OWNER_TYPE_ID", "OWNER_ID"]}):
        cover.emails.append(CoverItem(
            "email", _int(row.get("ID")), str(row.get("SUBJECT") or ""),
            parse_portal_time(row.get("CREATED")),
            links.crm(_int(row.get("OWNER_TYPE_ID")), _int(row.get("OWNER_ID")))))
    for section in (cover.activities, cover.tasks):
        section.sort(key=lambda item: (item.when is None, item.when or now, item.id))
    for section in (cover.leads, cover.emails):
        section.sort(key=lambda item: (item.when or now, item.id), reverse=True)
    return cover

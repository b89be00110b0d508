"""Lead distribution's services: the service lines and settings, submitting a visit report
(the decisions are taken then, from the directory, the absences and the portal's loads), and
the report's run (portal_ext.distribution.tasks), idempotent and resumable.

Idempotence: each deal carries ``ORIGINATOR_ID`` = :data:`ORIGINATOR` and ``ORIGIN_ID`` =
``visit-<report>-<line>``; the control task is bound to the deals (``UF_CRM_TASK``) and its
title names the report. A run looks both up before creating, so a run stopped between the
portal's answer and the extension's commit never creates anything twice. Notices carry a
``TAG`` naming the report and the manager, which the portal keeps to one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal_ext import jobs
from portal_ext.directory.models import Department, PortalUser
from portal_ext.distribution import rules
from portal_ext.distribution.errors import DistributionError
from portal_ext.distribution.models import (
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    DistributionSettings,
    Pick,
    ServiceLine,
    VisitReport,
)
from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

ORIGINATOR = "portal_ext.distribution"
MAIN_MANAGER_FIELD = "UF_CRM_MAIN_MANAGER"
CONVERTED = "CONVERTED"
DEFAULTS: dict[str, Any] = {
    "default_strategy": rules.RANDOM, "default_quota": None, "strategies": {},
    "main_strategy": rules.RANDOM, "fallback_user_id": None, "representative_ids": [],
    "control_task_days": 3,
    # Visit tasks for new leads: off until an administrator switches them on (``since``).
    "visit_tasks": False, "visit_tasks_since": None, "visit_strategy": rules.ROUND_ROBIN,
    "visit_title": "Visit: {lead}", "visit_days": 2,
}


def origin_id(report_id: int, line_id: int) -> str:
    return f"visit-{report_id}-{line_id}"


# -- service lines -------------------------------------------------------------------------
def lines(portal_id: int, *, retired: bool = False) -> list[ServiceLine]:
    stmt = select(ServiceLine).where(ServiceLine.portal_id == portal_id)
    if not retired:
        stmt = stmt.where(ServiceLine.retired.is_(False))
    return list(db.session.scalars(stmt.order_by(ServiceLine.position, ServiceLine.id)))


def line_json(line: ServiceLine) -> dict[str, Any]:
    return {"id": line.id, "name": line.name, "department_id": line.department_id,
            "category_id": line.category_id, "stage_id": line.stage_id}


def deal_categories(client: PortalClient) -> dict[int, str]:
    body = client.call("crm.category.list", {"entityTypeId": 2})
    found = body.get("categories", []) if isinstance(body, Mapping) else []
    return {int(c["id"]): str(c.get("name") or "") for c in found}


def _departments(portal_id: int) -> dict[int, Department]:
    return {d.portal_department_id: d for d in db.session.scalars(
        select(Department).where(Department.portal_id == portal_id))}


def departments(portal_id: int) -> list[Department]:
    return sorted(_departments(portal_id).values(), key=lambda d: d.portal_department_id)


def _reported_line_ids(portal_id: int) -> set[int]:
    found: set[int] = set()
    for ids in db.session.scalars(select(VisitReport.line_ids).where(
            VisitReport.portal_id == portal_id)):
        found.update(int(i) for i in ids or [])
    return found


def _int(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DistributionError(field, _l("Must be a whole number of at least %(n)s.",
                                          n=minimum))
    return value


def replace_lines(*, portal: Portal, client: PortalClient, items: Any) -> list[ServiceLine]:
    """``PUT /service-lines``: the list becomes ``items``; a line sent with its ``id`` keeps
    it; a line left out is removed, or retired when a report names it."""
    if not isinstance(items, list):
        raise DistributionError("lines", _l("Send a list of service lines."))
    departments = _departments(portal.id)
    categories = deal_categories(client)
    existing = {line.id: line for line in lines(portal.id, retired=True)}
    parsed: list[tuple[int | None, dict[str, Any]]] = []
    seen: set[int] = set()
    for index, item in enumerate(items):
        where = f"lines[{index}]"
        if not isinstance(item, Mapping):
            raise DistributionError(where, _l("Each service line is an object."))
        unknown = set(item) - {"id", "name", "department_id", "category_id", "stage_id"}
        if unknown:
            raise DistributionError(f"{where}.{sorted(unknown)[0]}", _l("Unknown field."))
        line_id = item.get("id")
        if line_id is not None:
            line_id = _int(line_id, f"{where}.id", minimum=1)
            if line_id not in existing or line_id in seen:
                raise DistributionError(f"{where}.id", _l("There is no such service line."))
            seen.add(line_id)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise DistributionError(f"{where}.name", _l("A name of 1 to 255 characters."))
        department_id = _int(item.get("department_id"), f"{where}.department_id", minimum=1)
        if department_id not in departments:
            raise DistributionError(f"{where}.department_id", _l("There is no such department."))
        category_id = _int(item.get("category_id", 0), f"{where}.category_id")
        if category_id not in categories:
            raise DistributionError(f"{where}.category_id", _l("There is no such pipeline."))
        stage_id = item.get("stage_id")
        prefix = f"C{category_id}:" if category_id else ""
        if (not isinstance(stage_id, str) or len(stage_id) > 64
                or not stage_id.startswith(prefix) or len(stage_id) <= len(prefix)
                or (not prefix and stage_id.startswith("C") and ":" in stage_id)):
            raise DistributionError(f"{where}.stage_id", _l(
                "A stage of the pipeline (%(prefix)s...).", prefix=prefix or "NEW"))
        parsed.append((line_id, {"name": name.strip(), "department_id": department_id,
                                 "category_id": category_id, "stage_id": stage_id}))
    reported = _reported_line_ids(portal.id)
    kept: list[ServiceLine] = []
    for position, (line_id, values) in enumerate(parsed):
        line = existing[line_id] if line_id is not None else ServiceLine(portal_id=portal.id)
        for key, value in values.items():
            setattr(line, key, value)
        line.position, line.retired = position, False
        db.session.add(line)
        kept.append(line)
    for line_id, line in existing.items():
        if line_id in seen:
            continue
        if line_id in reported:
            line.retired = True
        else:
            db.session.delete(line)
    db.session.commit()
    return kept


# -- settings ------------------------------------------------------------------------------
def settings_of(portal_id: int) -> dict[str, Any]:
    row = db.session.get(DistributionSettings, portal_id)
    return {**DEFAULTS, **(dict(row.settings) if row is not None else {})}


def _user_ids(portal_id: int, values: Any, field: str) -> list[int]:
    if not isinstance(values, list):
        raise DistributionError(field, _l("Send a list of portal user ids."))
    ids = [_int(v, field, minimum=1) for v in values]
    known = set(db.session.scalars(select(PortalUser.portal_user_id).where(
        PortalUser.portal_id == portal_id, PortalUser.portal_user_id.in_(ids or [0]))))
    for uid in ids:
        if uid not in known:
            raise DistributionError(field, _l("There is no user %(id)s.", id=uid))
    return list(dict.fromkeys(ids))


def _quota(value: Any, field: str) -> int | None:
    return None if value is None else _int(value, field, minimum=1)


def save_settings(*, portal: Portal, actor: PortalUser | None, body: Any,
                  now: datetime) -> dict[str, Any]:
    """``PUT /distribution/settings``: the fields sent replace theirs."""
    if not isinstance(body, Mapping):
        raise DistributionError(None, _l("Send a JSON object."))
    current = settings_of(portal.id)
    for key in body:
        if key not in DEFAULTS:
            raise DistributionError(str(key), _l("Unknown field."))
    new = dict(current)
    if "default_strategy" in body:
        if body["default_strategy"] not in rules.STRATEGIES:
            raise DistributionError("default_strategy", _l("Unknown strategy."))
        new["default_strategy"] = body["default_strategy"]
    if "default_quota" in body:
        new["default_quota"] = _quota(body["default_quota"], "default_quota")
    if "main_strategy" in body:
        if body["main_strategy"] not in rules.MAIN_STRATEGIES:
            raise DistributionError("main_strategy", _l("Unknown strategy."))
        new["main_strategy"] = body["main_strategy"]
    if "fallback_user_id" in body:
        value = body["fallback_user_id"]
        new["fallback_user_id"] = None if value is None else _user_ids(
            portal.id, [value], "fallback_user_id")[0]
    if "representative_ids" in body:
        new["representative_ids"] = _user_ids(portal.id, body["representative_ids"],
                                              "representative_ids")
    if "visit_tasks" in body:
        if not isinstance(body["visit_tasks"], bool):
            raise DistributionError("visit_tasks", _l("Must be true or false."))
        if body["visit_tasks"] and not current["visit_tasks"]:
            new["visit_tasks_since"] = now.isoformat()
        new["visit_tasks"] = body["visit_tasks"]
    if "visit_strategy" in body:
        if body["visit_strategy"] not in rules.STRATEGIES:
            raise DistributionError("visit_strategy", _l("Unknown strategy."))
        new["visit_strategy"] = body["visit_strategy"]
    if "visit_title" in body:
        title = body["visit_title"]
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            raise DistributionError("visit_title", _l("A title of 1 to 200 characters; "
                                                      "{lead} stands for the lead's."))
        new["visit_title"] = title
    if "visit_days" in body:
        new["visit_days"] = _int(body["visit_days"], "visit_days", minimum=1)
    if "control_task_days" in body:
        new["control_task_days"] = _int(body["control_task_days"], "control_task_days",
                                        minimum=1)
    if "strategies" in body:
        given = body["strategies"]
        if not isinstance(given, Mapping):
            raise DistributionError("strategies", _l("Send an object: department id -> "
                                                     "strategy and quota."))
        departments = _departments(portal.id)
        strategies: dict[str, Any] = {}
        for key, value in given.items():
            field = f"strategies.{key}"
            if not str(key).isdigit() or int(key) not in departments:
                raise DistributionError(field, _l("There is no such department."))
            if not isinstance(value, Mapping) or value.get("strategy") not in rules.STRATEGIES \
                    or set(value) - {"strategy", "quota"}:
                raise DistributionError(field, _l("Give a strategy (random, round_robin, "
                                                  "least_loaded) and an optional quota."))
            strategies[str(int(key))] = {"strategy": value["strategy"],
                                         "quota": _quota(value.get("quota"), f"{field}.quota")}
        new["strategies"] = strategies
    row = db.session.get(DistributionSettings, portal.id)
    if row is None:
        row = DistributionSettings(portal_id=portal.id)
        db.session.add(row)
    row.settings = new
    row.updated_by_id = actor.portal_user_id if actor else None
    row.updated_at = now
    db.session.commit()
    return new


# -- visit reports: submission ---------------------------------------------------------------
CLIENT_FIELDS = ("company", "contact", "phone", "email")


@dataclass
class ReportInput:
    lead_id: int
    line_ids: list[int]
    comment: str = ""
    visited_at: datetime | None = None
    # The client as filed (company, contact, phone, email); a key left out keeps the lead's.
    client: dict[str, str] | None = None


def read_lead(client: PortalClient, lead_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The lead and its client data as the report form starts from it (company, contact,
    phone, e-mail): the lead's own fields, else its company's and contact's, read in one
    ``batch``. Refuses (``lead_id``) when there is no such lead."""
    answer = client.run_batch({
        "lead": ("crm.lead.get", {"id": lead_id}),
        "company": ("crm.company.get", {"id": "$result[lead][COMPANY_ID]"}),
        "contact": ("crm.contact.get", {"id": "$result[lead][CONTACT_ID]"})})
    error = answer.errors.get("lead")
    if error is not None and error.transient:
        raise error
    lead = answer.results.get("lead")
    if error is not None or not isinstance(lead, Mapping):
        raise DistributionError("lead_id", _l("There is no lead %(id)s.", id=lead_id),
                                "not_found")
    company = answer.results.get("company")
    contact = answer.results.get("contact")
    company = company if isinstance(company, Mapping) and _positive(
        lead.get("COMPANY_ID")) else {}
    contact = contact if isinstance(contact, Mapping) and _positive(
        lead.get("CONTACT_ID")) else {}

    def first(source: Mapping[str, Any], key: str) -> str:
        values = source.get(key) or []
        return str(values[0].get("VALUE") or "") if isinstance(values, list) and values \
            and isinstance(values[0], Mapping) else ""

    def name(source: Mapping[str, Any]) -> str:
        return " ".join(str(source.get(k) or "") for k in ("NAME", "LAST_NAME")
                        if source.get(k)).strip()

    prefill = {"company": str(company.get("TITLE") or lead.get("COMPANY_TITLE") or ""),
               "contact": name(contact) or name(lead),
               "phone": first(lead, "PHONE") or first(contact, "PHONE"),
               "email": first(lead, "EMAIL") or first(contact, "EMAIL")}
    return dict(lead), prefill


def client_data(given: Mapping[str, Any] | None, prefill: Mapping[str, str]
                ) -> dict[str, Any]:
    """The client as the report keeps it: what was sent over what the lead had, and which
    fields the representative changed (``changed``: the run updates those on an existing
    company or contact)."""
    data = {key: str(prefill.get(key) or "") for key in CLIENT_FIELDS}
    changed = []
    for key, value in (given or {}).items():
        value = str(value or "").strip()
        if value != data[key]:
            changed.append(key)
        data[key] = value
    if data["email"] and "@" not in data["email"]:
        raise DistributionError("client.email", _l("An e-mail address, like name@example.com."))
    return {**data, "changed": changed}


def report_of(portal_id: int, report_id: int) -> VisitReport | None:
    report = db.session.get(VisitReport, report_id)
    return report if report is not None and report.portal_id == portal_id else None


def may_report(portal_id: int, actor: PortalUser | None) -> bool:
    """Administrators, heads and the field representatives may open the visit report form."""
    if actor is None:
        return False
    if actor.role in ("admin", "head"):
        return True
    return actor.portal_user_id in settings_of(portal_id)["representative_ids"]


def overseen(portal_id: int, actor: PortalUser) -> set[int]:
    """Portal ids of the departments ``actor`` heads, sub-departments included."""
    from portal_ext.directory.access import overseen_departments

    portal = db.session.get(Portal, portal_id)
    return overseen_departments(portal, actor) if portal is not None else set()


def _departments_of_users(portal_id: int, user_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for departments in db.session.scalars(select(PortalUser.department_ids).where(
            PortalUser.portal_id == portal_id, PortalUser.portal_user_id.in_(
                list(user_ids) or [0]))):
        found.update(int(d) for d in departments or [])
    return found


def representatives_of(portal_id: int, lead_id: int) -> list[int]:
    """Who visits the lead: its visit task's representative, else every field
    representative."""
    from portal_ext.distribution.models import VisitTask

    task = db.session.scalars(select(VisitTask).where(
        VisitTask.portal_id == portal_id, VisitTask.lead_id == lead_id)).first()
    if task is not None:
        return [task.representative_id]
    return list(settings_of(portal_id)["representative_ids"])


def may_file(portal_id: int, actor: PortalUser | None, lead_id: int) -> bool:
    """Administrators; the lead's representative (its visit task's, or any field
    representative when it has none); a head of a department that representative is in."""
    if actor is None:
        return False
    if actor.role == "admin":
        return True
    visitors = representatives_of(portal_id, lead_id)
    if actor.portal_user_id in visitors:
        return True
    return actor.role == "head" and bool(
        overseen(portal_id, actor) & _departments_of_users(portal_id, visitors))


def _absent_until(portal_id: int, user_id: int, now: datetime) -> datetime | None:
    from portal_ext.absences.services import active_absence

    absence = active_absence(portal_id=portal_id, user_id=user_id, at=now)
    if absence is None:
        return None
    return absence.end


def open_deals(client: PortalClient, wanted: Sequence[tuple[int, int]]
               ) -> dict[tuple[int, int], int]:
    """Open deals per (pipeline, user), in one ``batch`` for all of them (only the totals are
    read; more than 50 pairs take a request per 50)."""
    pairs = list(dict.fromkeys(wanted))
    if not pairs:
        return {}
    answer = client.run_batch({f"c{category}u{uid}": ("crm.deal.list", {
        "filter": {"CATEGORY_ID": category, "ASSIGNED_BY_ID": uid, "CLOSED": "N"},
        "select": ["ID"], "start": 0}) for category, uid in pairs})
    answer.raise_first()
    loads: dict[tuple[int, int], int] = {}
    for category, uid in pairs:
        key = f"c{category}u{uid}"
        total = answer.totals.get(key)
        if total is None:
            rows = answer.results.get(key)
            total = len(rows) if isinstance(rows, list) else 0
        loads[(category, uid)] = int(total)
    return loads


def _person(user: PortalUser, *, portal_id: int, now: datetime, load: int,
            today: Mapping[int, int], last: Mapping[int, datetime]) -> rules.Person:
    uid = user.portal_user_id
    return rules.Person(uid, active=bool(user.active),
                        absent_until=_absent_until(portal_id, uid, now) if user.active else None,
                        load=load, picked_today=today.get(uid, 0), last_picked_at=last.get(uid))


def decide(*, portal: Portal, client: PortalClient, now: datetime,
           chosen_lines: Sequence[ServiceLine], seed: int,
           ) -> tuple[list[rules.Decision], rules.MainDecision]:
    """The picks for a report's lines and its main manager; refuses (``lines``) when a line's
    department has nobody, no available head and no fallback."""
    config = settings_of(portal.id)
    rng = random.Random(seed)
    departments = _departments(portal.id)
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today: dict[int, int] = {int(uid): int(n) for uid, n in db.session.execute(
        select(Pick.user_id, func.count()).where(
            Pick.portal_id == portal.id, Pick.picked_at >= start_of_day)
        .group_by(Pick.user_id))}
    last: dict[int, datetime] = {int(uid): at for uid, at in db.session.execute(
        select(Pick.user_id, func.max(Pick.picked_at)).where(
            Pick.portal_id == portal.id).group_by(Pick.user_id))}
    users = {u.portal_user_id: u for u in db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id))}
    decisions: list[rules.Decision] = []
    managers: list[tuple[int, int, int]] = []
    people_of: dict[int, list[PortalUser]] = {}
    for department_id in dict.fromkeys(line.department_id for line in chosen_lines):
        people_of[department_id] = [u for u in users.values()
                                    if department_id in (u.department_ids or [])]
    all_loads = open_deals(client, [
        (line.category_id, u.portal_user_id) for line in chosen_lines
        for u in people_of[line.department_id] if u.active])
    for line in chosen_lines:
        own = config["strategies"].get(str(line.department_id)) or {}
        strategy = own.get("strategy") or config["default_strategy"]
        quota = own.get("quota", config["default_quota"]) if own else config["default_quota"]
        department = departments.get(line.department_id)
        head_id = department.head_portal_user_id if department else None
        # The head is the last resort, not one of the managers in turn.
        members = [u for u in people_of[line.department_id] if u.portal_user_id != head_id]
        people = [_person(u, portal_id=portal.id, now=now,
                          load=all_loads.get((line.category_id, u.portal_user_id), 0),
                          today=today, last=last) for u in members]
        last_in_department = db.session.scalars(select(Pick.user_id).where(
            Pick.portal_id == portal.id, Pick.department_id == line.department_id)
            .order_by(Pick.picked_at.desc(), Pick.id.desc()).limit(1)).first()
        extra = {uid: users[uid] for uid in (head_id, config["fallback_user_id"])
                 if uid is not None and uid in users}
        head = fallback = None
        if head_id in extra:
            head = _person(extra[head_id], portal_id=portal.id, now=now, load=0, today=today,
                           last=last)
        if config["fallback_user_id"] in extra:
            fallback = _person(extra[config["fallback_user_id"]], portal_id=portal.id, now=now,
                               load=0, today=today, last=last)
        decision = rules.pick(line.department_id, people, strategy=strategy, now=now, rng=rng,
                              quota=quota, last_chosen_id=last_in_department, head=head,
                              fallback=fallback, seed=seed)
        if decision.chosen_id is None:
            raise DistributionError("lines", _l(
                "Nobody can take the line %(name)s: everyone in its department is away, "
                "dismissed or at their quota, and there is no available head or fallback.",
                name=line.name))
        decisions.append(decision)
        chosen = decision.chosen()
        managers.append((decision.chosen_id, chosen.load if chosen else 0, line.position))
        today[decision.chosen_id] = today.get(decision.chosen_id, 0) + 1
        last_in_department = decision.chosen_id
    main = rules.pick_main(managers, strategy=config["main_strategy"], rng=rng, seed=seed)
    return decisions, main


def submit_report(*, portal: Portal, client: PortalClient, actor: PortalUser | None,
                  data: ReportInput, now: datetime,
                  seed: int | None = None) -> tuple[VisitReport, bool]:
    """Record a visit report and queue its run; ``(report, created)``. A report for a lead
    that already has one answers that one (``created`` False)."""
    if not may_file(portal.id, actor, data.lead_id):
        raise DistributionError("lead_id", _l(
            "Only administrators, the lead's field representative and their head file its "
            "visit report."), "forbidden")
    first = db.session.scalars(select(VisitReport).where(
        VisitReport.portal_id == portal.id, VisitReport.lead_id == data.lead_id)).first()
    if first is not None:
        return first, False
    if not data.line_ids:
        raise DistributionError("lines", _l("Tick at least one service line."))
    known = {line.id: line for line in lines(portal.id)}
    for line_id in data.line_ids:
        if line_id not in known:
            raise DistributionError("lines", _l("There is no service line %(id)s.", id=line_id))
    chosen_lines = [known[i] for i in dict.fromkeys(data.line_ids)]
    lead, prefill = read_lead(client, data.lead_id)
    client_fields = client_data(data.client, prefill)
    if str(lead.get("STATUS_ID") or "") == CONVERTED:
        raise DistributionError("lead_id", _l("The lead is already converted."), "conflict")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    decisions, main = decide(portal=portal, client=client, now=now, chosen_lines=chosen_lines,
                             seed=seed)
    report = VisitReport(
        portal_id=portal.id, lead_id=data.lead_id, line_ids=[line.id for line in chosen_lines],
        comment=data.comment, visited_at=data.visited_at, client=client_fields,
        author_id=actor.portal_user_id if actor else None, state=QUEUED,
        decisions=[{**d.as_dict(), "line_id": line.id}
                   for d, line in zip(decisions, chosen_lines, strict=True)],
        main_decision=main.as_dict(), main_manager_id=main.chosen_id, deals={}, notified=[],
        created_at=now)
    db.session.add(report)
    db.session.flush()
    for decision, line in zip(decisions, chosen_lines, strict=True):
        db.session.add(Pick(portal_id=portal.id, report_id=report.id, line_id=line.id,
                            department_id=line.department_id, user_id=decision.chosen_id,
                            picked_at=now))
    from portal_ext.distribution.tasks import run_report

    jobs.enqueue_after_commit(run_report, report.id)
    try:
        db.session.commit()
    except IntegrityError:  # the same lead's report, filed at the same moment, won
        db.session.rollback()
        first = db.session.scalars(select(VisitReport).where(
            VisitReport.portal_id == portal.id, VisitReport.lead_id == data.lead_id)).first()
        if first is None:
            raise
        return first, False
    return report, True


def retry_report(report: VisitReport) -> None:
    if report.state != FAILED:
        raise DistributionError(None, _l("Only a failed report is run again."), "conflict")
    report.state, report.error = QUEUED, None
    from portal_ext.distribution.tasks import run_report

    jobs.enqueue_after_commit(run_report, report.id)
    db.session.commit()


# -- visit reports: the run ------------------------------------------------------------------
def _task_title(report: VisitReport, lead_title: str, language: str) -> str:
    """The control task's title in ``language`` (its reader's: the main manager's)."""
    from flask_babel import force_locale, gettext

    with force_locale(language):
        return gettext("Visit report #%(id)s: %(lead)s", id=report.id,
                       lead=lead_title or gettext("lead %(id)s", id=report.lead_id))


def _task_titles(report: VisitReport, lead_title: str) -> set[str]:
    """The control task's title in every language: a run finds the task a stopped run made,
    even when the main manager has switched language since."""
    from portal_ext.i18n import LANGUAGES

    return {_task_title(report, lead_title, language) for language in LANGUAGES}


def _deal_texts(report: VisitReport, *, line_name: str, client_name: str, main_name: str,
                language: str) -> tuple[str, str]:
    """A deal's title and comment in ``language`` (its reader's: the deal's manager's)."""
    from flask_babel import force_locale, gettext

    with force_locale(language):
        title = gettext("%(line)s: %(client)s (main manager %(main)s)", line=line_name,
                        client=client_name, main=main_name)
        return title, _report_text(report, main_name)


def _report_text(report: VisitReport, main_name: str) -> str:
    """What a deal's comment and the control task's description say, in the current locale:
    the report and its main manager, then the representative's own words as written."""
    from flask_babel import gettext

    text = gettext("Visit report #%(id)s; the main manager is %(main)s.", id=report.id,
                   main=main_name)
    if report.comment:
        text += "\n\n" + gettext("The representative's comment: %(comment)s",
                                    comment=report.comment)
    return text


def _positive(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _rows_of(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        value = value.get("tasks", value.get("items", []))
    return list(value) if isinstance(value, list) else []


def _mandatory_values(userfields: Any) -> dict[str, Any]:
    """Values for the company's mandatory user fields a new company must carry: an
    enumeration takes its default item, else its last one (the demo's category C, "not yet
    rated"); other mandatory kinds are left to the portal, whose refusal fails the run with
    its message."""
    values: dict[str, Any] = {}
    for uf in _rows_of(userfields):
        if not isinstance(uf, Mapping) or str(uf.get("MANDATORY")) != "Y":
            continue
        items = [i for i in uf.get("LIST") or [] if isinstance(i, Mapping)]
        if str(uf.get("USER_TYPE_ID")) == "enumeration" and items:
            chosen = next((i for i in items if str(i.get("DEF")) == "Y"), items[-1])
            values[str(uf["FIELD_NAME"])] = chosen.get("ID")
    return values


@dataclass
class RunPlan:
    """What a run still has to write, as one ``batch`` (keys in the order they run), and how
    the answer is read back (see :func:`run`)."""

    commands: dict[str, tuple[str, Mapping[str, Any]]]
    deal_keys: dict[int, str]  # line id -> key of its crm.item.add
    company_id: int | None
    contact_id: int | None


def _read(report: VisitReport, client: PortalClient) -> dict[str, Any]:
    """Everything the run reads, in ONE ``batch``: the lead, the main-manager field, each
    deal not yet recorded looked up by its ORIGIN_ID, the control task looked up by its
    binding to the first deal, the company's mandatory fields and the working calendar."""
    first_line = report.line_ids[0]
    deals = report.deals or {}
    commands: dict[str, tuple[str, Mapping[str, Any]]] = {
        "lead": ("crm.lead.get", {"id": report.lead_id}),
        "uf": ("crm.deal.userfield.list", {"filter": {"FIELD_NAME": MAIN_MANAGER_FIELD}}),
        "calendar": ("calendar.settings.get", {}),
    }
    for line_id in report.line_ids:
        if str(line_id) not in deals:
            commands[f"d{line_id}"] = ("crm.deal.list", {
                "filter": {"ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": origin_id(report.id, line_id)},
                "select": ["ID"], "start": -1})
    if report.control_task_id is None:
        first = deals.get(str(first_line)) or f"$result[d{first_line}][0][ID]"
        commands["task"] = ("tasks.task.list", {"filter": {"UF_CRM_TASK": f"D_{first}"},
                                                "select": ["ID", "TITLE"], "start": -1})
    if report.company_id is None:
        commands["company_fields"] = ("crm.company.userfield.list",
                                      {"filter": {"MANDATORY": "Y"}})
    answer = client.run_batch(commands)
    if "lead" in answer.errors:
        raise answer.errors["lead"]
    return {"results": answer.results, "errors": answer.errors}


def _notice(report: VisitReport, manager: PortalUser | None, deal_refs: Sequence[str],
            main_name: str) -> str:
    from flask_babel import force_locale, gettext

    from portal_ext.i18n import reader_language

    with force_locale(reader_language(manager)):
        return gettext("Visit report #%(id)s: deal(s) %(deals)s are yours; the main manager "
                       "is %(main)s.", id=report.id,
                       deals=", ".join(f"#{ref}" for ref in deal_refs), main=main_name)


def ensure_main_manager_field(client: PortalClient) -> None:
    """Create the deal field ``UF_CRM_MAIN_MANAGER`` (an employee) on a portal without it:
    once per portal, on its own, before a report's write ``batch``, so two runs creating it
    at the same moment cannot halt a report's writes (the second add is refused; the field
    is there all the same)."""
    try:
        client.call("crm.deal.userfield.add", {"fields": {
            "FIELD_NAME": MAIN_MANAGER_FIELD, "USER_TYPE_ID": "employee",
            "EDIT_FORM_LABEL": "Main manager", "LIST_COLUMN_LABEL": "Main manager"}})
    except PortalError as exc:
        if exc.transient:
            raise
        found = client.call("crm.deal.userfield.list",
                            {"filter": {"FIELD_NAME": MAIN_MANAGER_FIELD}})
        if not _rows_of(found):
            raise


def plan_run(report: VisitReport, *, read: Mapping[str, Any], now: datetime,
             names: Mapping[int, str]) -> RunPlan:
    """The writes left to do, given what :func:`_read` found (deals and task found on the
    portal are recorded on ``report``, not created again)."""
    from flask_babel import force_locale

    from portal_ext.i18n import reader_language
    from portal_ext.portal.clock import portal_zone
    from portal_ext.working_time import DEFAULT_SETTINGS, WorkCalendar

    results, errors = read["results"], read["errors"]
    lead = results.get("lead") if isinstance(results.get("lead"), Mapping) else {}
    deals = dict(report.deals or {})
    for line_id in report.line_ids:
        found = _rows_of(results.get(f"d{line_id}"))
        if str(line_id) not in deals and found:
            deals[str(line_id)] = int(found[0]["ID"])
    report.deals = deals
    lead_title = str(lead.get("TITLE") or "")
    if report.control_task_id is None:
        titles = _task_titles(report, lead_title)
        for task in _rows_of(results.get("task")):
            if str(task.get("title") or task.get("TITLE") or "") in titles:
                report.control_task_id = int(task.get("id") or task.get("ID") or 0)
    given = dict(report.client or {})
    changed = set(given.get("changed") or [])
    company_id = report.company_id or _positive(lead.get("COMPANY_ID"))
    contact_id = report.contact_id or _positive(lead.get("CONTACT_ID"))
    company_name = str(given.get("company") or lead.get("COMPANY_TITLE") or lead_title)
    contact_name = str(given.get("contact") or " ".join(
        str(lead.get(k) or "") for k in ("NAME", "LAST_NAME")).strip())
    phone, email = str(given.get("phone") or ""), str(given.get("email") or "")
    commands: dict[str, tuple[str, Mapping[str, Any]]] = {}
    remaining = [i for i in report.line_ids if str(i) not in deals]
    company_ref: Any = company_id
    contact_ref: Any = contact_id
    bind: dict[str, Any] = {}
    multi = {**({"PHONE": [{"VALUE": phone, "VALUE_TYPE": "WORK"}]} if phone else {}),
             **({"EMAIL": [{"VALUE": email, "VALUE_TYPE": "WORK"}]} if email else {})}
    if remaining and company_id is None and company_name:
        commands["company"] = ("crm.company.add", {"fields": {
            "TITLE": company_name, **_mandatory_values(results.get("company_fields"))}})
        company_ref = bind["COMPANY_ID"] = "$result[company]"
    elif remaining and company_id is not None and "company" in changed and company_name:
        commands["company_update"] = ("crm.company.update", {"id": company_id,
                                                             "fields": {"TITLE": company_name}})
    if remaining and contact_id is None and contact_name:
        first, _, last = contact_name.partition(" ")
        commands["contact"] = ("crm.contact.add", {"fields": {
            "NAME": first, "LAST_NAME": last, **multi,
            **({"COMPANY_ID": company_ref} if company_ref else {})}})
        contact_ref = bind["CONTACT_ID"] = "$result[contact]"
    elif remaining and contact_id is not None and changed & {"contact", "phone", "email"}:
        update: dict[str, Any] = {}
        if "contact" in changed and contact_name:
            first, _, last = contact_name.partition(" ")
            update.update({"NAME": first, "LAST_NAME": last})
        for key in ("phone", "email"):  # a multifield value sent without its ID is added
            if key in changed and key.upper() in multi:
                update[key.upper()] = multi[key.upper()]
        if update:
            commands["contact_update"] = ("crm.contact.update", {"id": contact_id,
                                                                 "fields": update})
    if bind:  # the lead names what was made from it: a resumed run finds it there
        commands["bind"] = ("crm.lead.update", {"id": report.lead_id, "fields": bind})
    by_line = {d["line_id"]: d for d in report.decisions}
    line_rows = {line.id: line for line in lines(report.portal_id, retired=True)}
    managers = list(dict.fromkeys(int(d["chosen_id"]) for d in report.decisions))
    main_id = int(report.main_manager_id or managers[0])
    main_name = names.get(main_id, f"#{main_id}")
    people = {u.portal_user_id: u for u in db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == report.portal_id,
        PortalUser.portal_user_id.in_([*managers, main_id])))}
    deal_keys: dict[int, str] = {}
    for line_id in remaining:
        line = line_rows[line_id]
        chosen = int(by_line[line_id]["chosen_id"])
        deal_title, deal_comment = _deal_texts(
            report, line_name=line.name, main_name=main_name,
            client_name=str(company_name or lead_title or report.lead_id),
            language=reader_language(people.get(chosen)))
        fields: dict[str, Any] = {
            "title": deal_title,
            "categoryId": line.category_id, "stageId": line.stage_id, "assignedById": chosen,
            "observers": [m for m in managers if m != chosen], "leadId": report.lead_id,
            "comments": deal_comment, "originatorId": ORIGINATOR,
            "originId": origin_id(report.id, line_id), "ufCrmMainManager": main_id}
        if company_ref:
            fields["companyId"] = company_ref
        if contact_ref:
            fields["contactIds"] = [contact_ref]
        deal_keys[line_id] = f"d{line_id}"
        commands[f"d{line_id}"] = ("crm.item.add", {"entityTypeId": 2, "fields": fields})

    def deal_ref(line_id: int) -> str:
        known = deals.get(str(line_id))
        return str(known) if known else f"$result[d{line_id}][item][id]"

    if report.control_task_id is None:
        calendar = results.get("calendar") if "calendar" not in errors else None
        work = WorkCalendar.from_settings(calendar if isinstance(calendar, Mapping)
                                          else DEFAULT_SETTINGS, portal_zone())
        config = settings_of(report.portal_id)
        due = work.add_days(now, int(config["control_task_days"]))
        main_language = reader_language(people.get(main_id))
        with force_locale(main_language):
            description = _report_text(report, main_name)
        commands["task"] = ("tasks.task.add", {"fields": {
            "TITLE": _task_title(report, lead_title, main_language), "RESPONSIBLE_ID": main_id,
            "AUDITORS": [m for m in managers if m != main_id],
            "UF_CRM_TASK": [f"D_{deal_ref(i)}" for i in report.line_ids],
            "DEADLINE": due.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "DESCRIPTION": description}})
    if not report.lead_converted:
        commands["lead"] = ("crm.lead.update", {"id": report.lead_id,
                                                "fields": {"STATUS_ID": CONVERTED}})
    for manager in managers:
        if manager in (report.notified or []):
            continue
        theirs = [deal_ref(i) for i in report.line_ids
                  if int(by_line[i]["chosen_id"]) == manager]
        commands[f"n{manager}"] = ("im.notify.system.add", {
            "USER_ID": manager, "MESSAGE": _notice(report, people.get(manager), theirs,
                                                   main_name),
            "TAG": f"distribution|{report.id}|{manager}"})
    return RunPlan(commands, deal_keys, company_id, contact_id)


def _record(report: VisitReport, plan: RunPlan, results: Mapping[str, Any]) -> None:
    """Keep what the portal answered for each write that ran."""
    deals = dict(report.deals or {})
    for line_id, key in plan.deal_keys.items():
        item = results.get(key)
        if isinstance(item, Mapping) and isinstance(item.get("item"), Mapping):
            deals[str(line_id)] = int(item["item"]["id"])
    report.deals = deals
    report.company_id = _positive(results.get("company")) or plan.company_id
    report.contact_id = _positive(results.get("contact")) or plan.contact_id
    task = results.get("task")
    if isinstance(task, Mapping):
        task = task.get("task", task)
        report.control_task_id = int(task.get("id") or task.get("ID") or 0) or None
    if "lead" in results:
        report.lead_converted = True
    notified = list(report.notified or [])
    for key in results:
        if key.startswith("n") and key[1:].isdigit() and int(key[1:]) not in notified:
            notified.append(int(key[1:]))
    report.notified = notified


def run(report: VisitReport, *, client: PortalClient, now: datetime,
        names: Mapping[int, str]) -> bool:
    """Do (or finish) the report's work on the portal: one ``batch`` of reads, then one
    ``batch`` with every write left (the company and contact when missing, the deals, the
    control task, the lead's conversion, the notices; later writes refer to earlier ones as
    ``$result[...]``), stopping at the first refusal. False when another run holds the
    report: a run claims it (``running``, ``started_at``) for ``DISTRIBUTION_STALE_SECONDS``."""
    from flask import current_app

    stale = timedelta(seconds=float(current_app.config["DISTRIBUTION_STALE_SECONDS"]))
    claimed = db.session.execute(update(VisitReport).where(  # type: ignore[attr-defined]
        VisitReport.id == report.id, VisitReport.state != DONE,
        or_(VisitReport.state != RUNNING, VisitReport.started_at.is_(None),
            VisitReport.started_at < now - stale))
        .values(state=RUNNING, error=None, started_at=now)).rowcount
    db.session.commit()
    if not claimed:
        return False
    db.session.refresh(report)
    read = _read(report, client)
    if len(report.deals or {}) < len(report.line_ids) and not _rows_of(
            read["results"].get("uf")):
        ensure_main_manager_field(client)
    plan = plan_run(report, read=read, now=now, names=names)
    db.session.commit()  # what the look-up found; no transaction stays open over the portal
    if plan.commands:
        answer = client.run_batch(plan.commands, halt=True)
        _record(report, plan, answer.results)
        if answer.errors or len(answer.results) < len(plan.commands):
            db.session.commit()
            answer.raise_first()
            raise PortalError("ERROR_BATCH_HALTED", "batch stopped at a failed command")
    report.state, report.finished_at = DONE, now
    db.session.commit()
    return True


def resume_stale(portal_id: int, *, now: datetime, stale: timedelta) -> int:
    """Queue again the reports whose run was lost (a worker killed, a message dropped):
    queued or running, and started (or filed) longer than ``stale`` ago. A run finds on the
    portal what the lost one wrote, so running twice creates nothing twice."""
    from portal_ext.distribution.tasks import run_report

    found = list(db.session.scalars(select(VisitReport.id).where(
        VisitReport.portal_id == portal_id, VisitReport.state.in_((QUEUED, RUNNING)),
        func.coalesce(VisitReport.started_at, VisitReport.created_at) < now - stale)))
    for report_id in found:
        jobs.enqueue(run_report, report_id)
    return len(found)


def fail(report: VisitReport, message: str) -> None:
    report.state, report.error = FAILED, message[:500]
    db.session.commit()


def report_json(report: VisitReport) -> dict[str, Any]:
    return {"id": report.id, "lead_id": report.lead_id, "lines": list(report.line_ids),
            "comment": report.comment,
            "visited_at": report.visited_at.isoformat() if report.visited_at else None,
            "state": report.state, "error": report.error, "author_id": report.author_id,
            "deals": [{"line_id": int(k), "deal_id": v} for k, v in (report.deals or {}).items()],
            "main_manager_id": report.main_manager_id,
            "control_task_id": report.control_task_id,
            "lead_converted": report.lead_converted,
            "client": {k: v for k, v in (report.client or {}).items() if k in CLIENT_FIELDS}
            if report.client is not None else None,
            "company_id": report.company_id, "contact_id": report.contact_id,
            "decisions": list(report.decisions or []), "main_decision": report.main_decision,
            "created_at": report.created_at.isoformat()}


def find_decisions(portal_id: int, *, department: int | None = None,
                   manager: int | None = None, since: datetime | None = None,
                   departments: set[int] | None = None) -> list[dict[str, Any]]:
    """Decisions, newest report first; ``departments``: only those (a head's own)."""
    stmt = select(VisitReport).where(VisitReport.portal_id == portal_id)
    if since is not None:
        stmt = stmt.where(VisitReport.created_at >= since)
    found: list[dict[str, Any]] = []
    for report in db.session.scalars(stmt.order_by(VisitReport.id.desc())):
        for decision in report.decisions or []:
            if department is not None and decision.get("department_id") != department:
                continue
            if departments is not None and decision.get("department_id") not in departments:
                continue
            if manager is not None and decision.get("chosen_id") != manager:
                continue
            found.append({**decision, "report_id": report.id, "lead_id": report.lead_id,
                          "decided_at": report.created_at.isoformat()})
    return found


def may_see(actor: PortalUser | None, report: VisitReport) -> bool:
    """Administrators; its author and the lead's representative; a head of a department
    one of them is in, or whose line the report names."""
    if actor is None:
        return False
    if actor.role == "admin":
        return True
    people = [report.author_id or 0, *representatives_of(report.portal_id, report.lead_id)]
    if actor.portal_user_id in people:
        return True
    if actor.role != "head":
        return False
    mine = overseen(report.portal_id, actor)
    departments = {int(d.get("department_id") or 0) for d in report.decisions or []}
    return bool(mine & (departments | _departments_of_users(report.portal_id, people)))


# -- visit tasks -----------------------------------------------------------------------------
def _deadline(client: PortalClient, now: datetime, days: int) -> str:
    from portal_ext.portal.clock import portal_zone
    from portal_ext.working_time import read_calendar

    try:
        due = read_calendar(client, portal_zone()).add_days(now, days)
    except PortalError:
        due = now + timedelta(days=days)
    return due.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def create_visit_task(*, portal: Portal, client: PortalClient, now: datetime, lead_id: int,
                      report_url: str, created_at: datetime | None = None) -> int | None:
    """A new lead's visit task for a field representative, bound to the lead, linking to its
    visit report form; None when switched off, the lead is older than the switch, or nobody
    represents. Once per lead: a task already made (recorded, or found on the portal by its
    binding and title) is not made again."""
    from portal_ext.distribution.models import VisitTask

    config = settings_of(portal.id)
    since = config.get("visit_tasks_since")
    if not config["visit_tasks"] or not config["representative_ids"]:
        return None
    # An event tells its time in whole seconds: a lead of the switch's own second is new.
    if since and created_at is not None and created_at < datetime.fromisoformat(since).replace(
            microsecond=0):
        return None
    done = db.session.scalars(select(VisitTask).where(
        VisitTask.portal_id == portal.id, VisitTask.lead_id == lead_id)).first()
    if done is not None:
        return done.task_id
    lead = client.call("crm.lead.get", {"id": lead_id})
    if not isinstance(lead, Mapping) or str(lead.get("STATUS_ID") or "") == CONVERTED:
        return None
    title = str(config["visit_title"]).replace("{lead}", str(lead.get("TITLE") or lead_id))
    users = {u.portal_user_id: u for u in db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id))}
    picks = {uid: at for uid, at in db.session.execute(
        select(VisitTask.representative_id, func.max(VisitTask.created_at)).where(
            VisitTask.portal_id == portal.id).group_by(VisitTask.representative_id))}
    last = db.session.scalars(select(VisitTask.representative_id).where(
        VisitTask.portal_id == portal.id).order_by(VisitTask.id.desc()).limit(1)).first()
    people = [rules.Person(uid, active=bool(users[uid].active),
                           absent_until=_absent_until(portal.id, uid, now),
                           last_picked_at=picks.get(uid))
              for uid in config["representative_ids"] if uid in users]
    decision = rules.pick(0, people, strategy=config["visit_strategy"], now=now,
                          rng=random.Random(lead_id), last_chosen_id=last)
    if decision.chosen_id is None:
        return None
    found = client.call("tasks.task.list", {"filter": {"UF_CRM_TASK": f"L_{lead_id}"},
                                            "select": ["ID", "TITLE"], "start": -1})
    rows = found.get("tasks", []) if isinstance(found, Mapping) else found or []
    task_id = next((int(t.get("id") or t.get("ID") or 0) for t in rows
                    if str(t.get("title") or t.get("TITLE") or "") == title), None)
    if task_id is None:
        body = client.call("tasks.task.add", {"fields": {
            "TITLE": title, "RESPONSIBLE_ID": decision.chosen_id,
            "UF_CRM_TASK": [f"L_{lead_id}"],
            "DEADLINE": _deadline(client, now, int(config["visit_days"])),
            "DESCRIPTION": f"Visit report: {report_url}"}})
        task = body.get("task", body) if isinstance(body, Mapping) else {}
        task_id = int(task.get("id") or task.get("ID") or 0)
    db.session.add(VisitTask(portal_id=portal.id, lead_id=lead_id, task_id=task_id,
                             representative_id=decision.chosen_id, created_at=now))
    db.session.commit()
    return task_id


def people_by_email(portal_id: int, emails: Sequence[str]) -> list[PortalUser]:
    return list(db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal_id, PortalUser.email.in_(list(emails)))
        .order_by(PortalUser.portal_user_id)))

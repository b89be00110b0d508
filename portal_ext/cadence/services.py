"""The contact cadence's settings, its read model and what it reports.

- Settings (:func:`settings_of`, :func:`save_settings`): the category field is a company list
  field; when it does not exist and is the default ``UF_CRM_CLIENT_CATEGORY`` it is created over
  the portal port with items A, B, C (``XML_ID``); an existing field's item ids map to the
  categories by ``XML_ID`` or value unless a mapping is given.
- The read model (portal_ext.cadence.models) is rebuilt by a full resync (:func:`resync_step`,
  one ``batch`` request of ``start=-1`` ID windows per step, resumable from its cursor) and kept
  by the portal's events (portal_ext.cadence.handlers, through :func:`apply_activity`,
  :func:`apply_company`, :func:`apply_link`).
- The report (:func:`report_rows`, :func:`load`) filters in SQL: the state follows from the
  stored due date and warning start and today.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as clock_time
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select

from portal_ext.cadence import rules
from portal_ext.cadence.errors import CadenceError
from portal_ext.cadence.models import (
    DEFAULT_FIELD,
    DONE,
    FAILED,
    RUNNING,
    CadenceCallStat,
    CadenceCompany,
    CadenceContact,
    CadenceLink,
    CadenceResync,
    CadenceSettings,
)
from portal_ext.cadence.rules import COMPANY, CONTACT, DEAL, LEAD, ContactOptions, Interval
from portal_ext.directory.models import Department, PortalUser
from portal_ext.directory.rules import ADMIN, HEAD, head_ids, headed_subtree, role_of
from portal_ext.extensions import db
from portal_ext.paging import Page
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import parse_portal_time, portal_zone
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

PAGE = 50  # a portal list page
WINDOWS = 50  # windows per batch request
ENTITY_NAMES = {LEAD: "lead", DEAL: "deal", CONTACT: "contact", COMPANY: "company"}
ACTIVITY_SELECT = ["ID", "TYPE_ID", "DIRECTION", "COMPLETED", "SETTINGS", "START_TIME",
                   "END_TIME", "RESPONSIBLE_ID", "OWNER_TYPE_ID", "OWNER_ID", "BINDINGS"]
MAX_INTERVAL = 36  # months, or 36*31 days
DIGEST_HOUR = 9  # the daily digest's default hour, portal time


# -- settings ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    category_field: str = DEFAULT_FIELD
    category_map: dict[str, str] = field(default_factory=dict)  # item id -> A/B/C
    intervals: dict[str, Interval] = field(default_factory=lambda: dict(rules.DEFAULT_INTERVALS))
    options: ContactOptions = field(default_factory=ContactOptions)
    digest_hour: int | None = DIGEST_HOUR  # portal time; None: no digest

    def as_dict(self) -> dict[str, Any]:
        return {"category_field": self.category_field,
                "category_map": dict(self.category_map),
                "intervals": {k: v.as_dict() for k, v in self.intervals.items()},
                "contact": self.options.as_dict(), "digest_hour": self.digest_hour}


def configured(portal_id: int) -> bool:
    """Whether an administrator has saved the settings (the read model is kept from then)."""
    return db.session.get(CadenceSettings, portal_id) is not None


def settings_of(portal_id: int) -> Settings:
    row = db.session.get(CadenceSettings, portal_id)
    if row is None:
        return Settings()
    intervals = dict(rules.DEFAULT_INTERVALS)
    for letter, raw in (row.intervals or {}).items():
        intervals[letter] = Interval(int(raw["count"]), str(raw["unit"]),
                                     int(raw.get("warning_days") or 0))
    options = ContactOptions(**{**ContactOptions().as_dict(), **(row.options or {})})
    return Settings(row.category_field, dict(row.category_map or {}), intervals, options,
                    row.digest_hour)


def _invalid(field_name: str, message: str) -> CadenceError:
    return CadenceError(field_name, message)


def _int_in(raw: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(where, f"'{where}' must be a whole number from {low} to {high}.")
    return value


def parse_settings(body: Mapping[str, Any], current: Settings) -> tuple[Settings, bool]:
    """The settings ``body`` asks for (missing parts stay as they are), and whether a
    mapping was given. Raises CadenceError naming the field."""
    field_name = body.get("category_field", current.category_field)
    if not isinstance(field_name, str) or not field_name.startswith("UF_CRM_") \
            or len(field_name) > 50:
        raise _invalid("category_field", "'category_field' must be a company user field name "
                                         "(UF_CRM_...).")
    mapping = current.category_map if field_name == current.category_field else {}
    given = "category_map" in body
    if given:
        raw_map = body["category_map"]
        if not isinstance(raw_map, dict) or not all(
                isinstance(v, str) and v in rules.CATEGORIES for v in raw_map.values()):
            raise _invalid("category_map", "'category_map' must map item ids to A, B or C.")
        mapping = {str(k): v for k, v in raw_map.items()}
    intervals = dict(current.intervals)
    raw_intervals = body.get("intervals", {})
    if not isinstance(raw_intervals, dict):
        raise _invalid("intervals", "'intervals' must be an object of A, B, C.")
    for letter, raw in raw_intervals.items():
        where = f"intervals.{letter}"
        if letter not in rules.CATEGORIES:
            raise _invalid(where, f"'{letter}' is not a category (A, B, C).")
        if not isinstance(raw, dict):
            raise _invalid(where, f"'{where}' must be an object.")
        unit = raw.get("unit", intervals[letter].unit)
        if unit not in rules.UNITS:
            raise _invalid(where + ".unit", f"'{where}.unit' must be day or month.")
        high = MAX_INTERVAL if unit == rules.MONTH else MAX_INTERVAL * 31
        count = _int_in({"count": raw.get("count", intervals[letter].count)}, "count",
                        where + ".count", 1, high)
        warning = _int_in({"w": raw.get("warning_days", intervals[letter].warning_days)}, "w",
                          where + ".warning_days", 0, 365)
        intervals[letter] = Interval(count, unit, warning)
    raw_options = body.get("contact", {})
    if not isinstance(raw_options, dict):
        raise _invalid("contact", "'contact' must be an object.")
    options = current.options
    if "min_call_seconds" in raw_options:
        options = ContactOptions(_int_in(raw_options, "min_call_seconds",
                                         "contact.min_call_seconds", 0, 3600),
                                 options.email_direction, options.meetings)
    if "email_direction" in raw_options:
        if raw_options["email_direction"] not in rules.EMAIL_DIRECTIONS:
            raise _invalid("contact.email_direction",
                           "'contact.email_direction' must be in, out or both.")
        options = ContactOptions(options.min_call_seconds, raw_options["email_direction"],
                                 options.meetings)
    if "meetings" in raw_options:
        if not isinstance(raw_options["meetings"], bool):
            raise _invalid("contact.meetings", "'contact.meetings' must be true or false.")
        options = ContactOptions(options.min_call_seconds, options.email_direction,
                                 raw_options["meetings"])
    digest_hour = current.digest_hour
    if "digest_hour" in body:
        digest_hour = body["digest_hour"]
        if digest_hour is not None:
            digest_hour = _int_in(body, "digest_hour", "digest_hour", 0, 23)
    return Settings(field_name, mapping, intervals, options, digest_hour), given


def category_fields(client: PortalClient) -> dict[str, dict[str, Any]]:
    """The portal's company list fields: name -> its ``crm.company.fields`` description."""
    fields = client.call("crm.company.fields") or {}
    return {name: info for name, info in fields.items()
            if isinstance(info, dict) and info.get("type") == "enumeration"
            and name.startswith("UF_CRM_")}


def _items_map(client: PortalClient, field_name: str) -> dict[str, str]:
    """Item id -> A/B/C of a list field, by XML_ID or, failing that, by value."""
    found: dict[str, str] = {}
    listed = client.call("crm.company.userfield.list", {"filter": {"FIELD_NAME": field_name}})
    for uf in listed or []:
        for item in uf.get("LIST") or []:
            letter = str(item.get("XML_ID") or item.get("VALUE") or "").strip().upper()
            if letter in rules.CATEGORIES:
                found[str(item["ID"])] = letter
    if not found:
        for item in (category_fields(client).get(field_name) or {}).get("items") or []:
            letter = str(item.get("VALUE") or "").strip().upper()
            if letter in rules.CATEGORIES:
                found[str(item["ID"])] = letter
    return found


def save_settings(*, portal: Portal, client: PortalClient, body: Mapping[str, Any],
                  actor_id: int | None, now: datetime) -> Settings:
    """Validate and store the settings; creates the default category field when missing."""
    current = settings_of(portal.id)
    wanted, given = parse_settings(body, current)
    fields = category_fields(client)
    if wanted.category_field not in fields:
        if wanted.category_field != DEFAULT_FIELD:
            raise _invalid("category_field", f"The portal has no company list field "
                                             f"{wanted.category_field}.")
        client.call("crm.company.userfield.add", {"fields": {
            "FIELD_NAME": DEFAULT_FIELD, "USER_TYPE_ID": "enumeration",
            "EDIT_FORM_LABEL": "Client category", "LIST_COLUMN_LABEL": "Client category",
            "LIST": [{"VALUE": c, "SORT": 10 * (i + 1), "XML_ID": c, "DEF": "N"}
                     for i, c in enumerate(rules.CATEGORIES)]}})
    mapping = wanted.category_map
    if not given and (wanted.category_field != current.category_field or not mapping):
        mapping = _items_map(client, wanted.category_field)
    row = db.session.get(CadenceSettings, portal.id) or CadenceSettings(portal_id=portal.id)
    row.category_field = wanted.category_field
    row.category_map = mapping
    row.intervals = {k: v.as_dict() for k, v in wanted.intervals.items()}
    row.options = wanted.options.as_dict()
    row.digest_hour = wanted.digest_hour
    row.updated_by_id, row.updated_at = actor_id, now
    db.session.add(row)
    db.session.flush()
    settings = settings_of(portal.id)
    _recategorize(portal.id, settings, portal_zone())
    db.session.commit()
    return settings


def _recategorize(portal_id: int, settings: Settings, tz: tzinfo) -> None:
    for row in db.session.scalars(select(CadenceCompany).where(
            CadenceCompany.portal_id == portal_id)):
        row.category = settings.category_map.get(row.category_item or "")
        _set_due(row, settings, tz)


# -- the read model ---------------------------------------------------------------------------
def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _bindings(activity: Mapping[str, Any]) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for binding in activity.get("BINDINGS") or []:
        t, i = _int(binding.get("OWNER_TYPE_ID")), _int(binding.get("OWNER_ID"))
        if t and i:
            pairs.append((t, i))
    owner = (_int(activity.get("OWNER_TYPE_ID")), _int(activity.get("OWNER_ID")))
    if owner[0] and owner[1]:
        pairs.append((owner[0], owner[1]))
    return list(dict.fromkeys(pairs))


def contact_rows(portal_id: int, activity: Mapping[str, Any], options: ContactOptions,
                 statistic: Mapping[str, Any] | None = None) -> list[CadenceContact]:
    """The read model's rows for one activity: one per item it is bound to, if it counts.
    ``statistic``: the call's telephony statistics (``CALL_FAILED_CODE``, ``CALL_DURATION``),
    where the portal has them."""
    contact = rules.contact_of(activity, options, start=parse_portal_time(
        activity.get("START_TIME")), end=parse_portal_time(activity.get("END_TIME")),
        statistic=statistic)
    if contact is None:
        return []
    return [CadenceContact(portal_id=portal_id, activity_id=contact.activity_id,
                           owner_type_id=t, owner_id=i, channel=contact.channel,
                           direction=contact.direction, at=contact.at, by=contact.by)
            for t, i in _bindings(activity) if t in ENTITY_NAMES]


STATISTIC_METHOD = "voximplant.statistic.get"


def _needs_statistic(activity: Mapping[str, Any]) -> bool:
    """A completed call that is not marked missed: only its statistics tell whether it reached
    the client (an outgoing call's activity is completed even when the call failed)."""
    settings = activity.get("SETTINGS")
    settings = settings if isinstance(settings, Mapping) else {}
    return (_int(activity.get("TYPE_ID")) == rules.TYPE_CALL
            and str(activity.get("COMPLETED") or "").upper() == "Y"
            and not settings.get("MISSED_CALL"))


def _stat_row(portal_id: int, record: Mapping[str, Any]) -> CadenceCallStat | None:
    activity_id = _int(record.get("CRM_ACTIVITY_ID"))
    if not activity_id:
        return None
    code = record.get("CALL_FAILED_CODE")
    return CadenceCallStat(portal_id=portal_id, activity_id=activity_id,
                           code=None if code in (None, "") else str(code)[:16],
                           duration=_int(record.get("CALL_DURATION")))


def _stat_json(row: CadenceCallStat | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"CALL_FAILED_CODE": row.code, "CALL_DURATION": row.duration}


def read_statistic(portal_id: int, client: PortalClient,
                   activity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The call's statistics from the portal (one request), kept in the read model; None when
    the portal has none (or the caller may not read them: ``ACCESS_DENIED``)."""
    activity_id = _int(activity.get("ID"))
    if not activity_id or not _needs_statistic(activity):
        return None
    try:
        records = _rows_of(client.call(STATISTIC_METHOD, {
            "FILTER": {"CRM_ACTIVITY_ID": activity_id}, "SORT": "ID", "ORDER": "DESC"}))
    except PortalError as exc:
        if exc.code != "ACCESS_DENIED":
            raise
        records = []
    found = _stat_row(portal_id, records[0]) if records else None
    if found is None:
        return _stat_json(db.session.get(CadenceCallStat, (portal_id, activity_id)))
    db.session.merge(found)
    return _stat_json(found)


def _companies_touched(portal_id: int, pairs: Iterable[tuple[int, int]]) -> set[int]:
    pairs = list(pairs)
    links = {(t, i): c for t, i, c in db.session.execute(select(
        CadenceLink.entity_type_id, CadenceLink.entity_id, CadenceLink.company_id).where(
        CadenceLink.portal_id == portal_id,
        _pairs_condition(CadenceLink.entity_type_id, CadenceLink.entity_id, pairs)))} \
        if pairs else {}
    return rules.companies_of(pairs, links)


def _pairs_condition(type_column: Any, id_column: Any, pairs: Iterable[tuple[int, int]]) -> Any:
    """``(type, id) IN pairs`` written per type (``type = t AND id IN (...)``), so the
    database uses its (portal, type, id) index instead of scanning."""
    by_type: dict[int, set[int]] = {}
    for type_id, item_id in pairs:
        by_type.setdefault(type_id, set()).add(item_id)
    return or_(*(and_(type_column == t, id_column.in_(sorted(ids)))
                 for t, ids in sorted(by_type.items())))


_GETTERS = {CONTACT: "crm.contact.get", DEAL: "crm.deal.get", LEAD: "crm.lead.get"}


def learn_links(portal_id: int, client: PortalClient, pairs: Iterable[tuple[int, int]]) -> None:
    """Read the company of contacts, deals and leads the read model does not know yet (one
    ``batch`` request)."""
    wanted = [(t, i) for t, i in pairs if t in _GETTERS
              and db.session.get(CadenceLink, (portal_id, t, i)) is None]
    if not wanted:
        return
    answers = client.batch_each({pair: (_GETTERS[pair[0]], {"id": pair[1]}) for pair in wanted})
    for (type_id, item_id), answer in answers.items():
        company_id = _int(answer.get("COMPANY_ID")) if isinstance(answer, dict) else None
        if company_id:
            db.session.merge(CadenceLink(portal_id=portal_id, entity_type_id=type_id,
                                         entity_id=item_id, company_id=company_id))
    db.session.flush()


def apply_activity(*, portal_id: int, activity_id: int, activity: Mapping[str, Any] | None,
                   today: date, tz: tzinfo, client: PortalClient | None = None) -> set[int]:
    """Replace one activity's contacts (``activity`` None: it was deleted) and refresh the
    companies it counted or counts for; returns them. With ``client``, the companies of bound
    items not known yet are read from the portal first."""
    old = [(c.owner_type_id, c.owner_id) for c in db.session.scalars(select(CadenceContact).where(
        CadenceContact.portal_id == portal_id, CadenceContact.activity_id == activity_id))]
    db.session.execute(delete(CadenceContact).where(CadenceContact.portal_id == portal_id,
                                                    CadenceContact.activity_id == activity_id))
    new: list[CadenceContact] = []
    if activity is not None:
        statistic = read_statistic(portal_id, client, activity) if client is not None else \
            _stat_json(db.session.get(CadenceCallStat, (portal_id, activity_id)))
        new = contact_rows(portal_id, activity, settings_of(portal_id).options, statistic)
        if new and client is not None:
            learn_links(portal_id, client, [(c.owner_type_id, c.owner_id) for c in new])
        db.session.add_all(new)
    db.session.flush()
    touched = _companies_touched(portal_id, old + [(c.owner_type_id, c.owner_id) for c in new])
    refresh(portal_id, touched, tz=tz)
    return touched


def apply_company(*, portal_id: int, company: Mapping[str, Any] | None, company_id: int,
                  tz: tzinfo, seen_at: datetime | None = None) -> None:
    """Create, update or (``company`` None) drop one company's row."""
    if company is None:
        db.session.execute(delete(CadenceCompany).where(CadenceCompany.portal_id == portal_id,
                                                        CadenceCompany.company_id == company_id))
        return
    settings = settings_of(portal_id)
    row = _company_row(portal_id, company_id) or CadenceCompany(portal_id=portal_id,
                                                               company_id=company_id)
    _fill_company(row, company, settings, tz)
    if seen_at is not None:
        row.seen_at = seen_at
    db.session.add(row)
    db.session.flush()
    refresh(portal_id, {company_id}, tz=tz)


def _company_row(portal_id: int, company_id: int) -> CadenceCompany | None:
    return db.session.scalars(select(CadenceCompany).where(
        CadenceCompany.portal_id == portal_id, CadenceCompany.company_id == company_id)).first()


def _fill_company(row: CadenceCompany, company: Mapping[str, Any], settings: Settings,
                  tz: tzinfo) -> None:
    row.title = str(company.get("TITLE") or "")[:255]
    raw = company.get(settings.category_field)
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    row.category_item = str(raw) if raw not in (None, "", False) else None
    row.category = settings.category_map.get(row.category_item or "")
    row.responsible_id = _int(company.get("ASSIGNED_BY_ID"))
    created = parse_portal_time(company.get("DATE_CREATE"))
    row.created_on = rules.local_date(created, tz) if created else row.created_on


def apply_link(*, portal_id: int, entity_type_id: int, entity_id: int,
               company_id: int | None, tz: tzinfo) -> None:
    """A contact, deal or lead now belongs to ``company_id`` (None: to no company)."""
    link = db.session.get(CadenceLink, (portal_id, entity_type_id, entity_id))
    before = link.company_id if link else None
    if before == company_id:
        return
    if company_id is None:
        if link is not None:
            db.session.delete(link)
    elif link is None:
        db.session.add(CadenceLink(portal_id=portal_id, entity_type_id=entity_type_id,
                                   entity_id=entity_id, company_id=company_id))
    else:
        link.company_id = company_id
    db.session.flush()
    refresh(portal_id, {c for c in (before, company_id) if c}, tz=tz)


def refresh(portal_id: int, company_ids: Iterable[int] | None, *, tz: tzinfo) -> int:
    """Recompute the last call, last e-mail and due date of these companies (None: all)."""
    settings = settings_of(portal_id)
    query = select(CadenceCompany).where(CadenceCompany.portal_id == portal_id)
    wanted = None if company_ids is None else set(company_ids)
    if wanted is not None:
        if not wanted:
            return 0
        query = query.where(CadenceCompany.company_id.in_(wanted))
    rows = {r.company_id: r for r in db.session.scalars(query)}
    if not rows:
        return 0
    link_q = select(CadenceLink.entity_type_id, CadenceLink.entity_id, CadenceLink.company_id) \
        .where(CadenceLink.portal_id == portal_id)
    if wanted is not None:
        link_q = link_q.where(CadenceLink.company_id.in_(wanted))
    links = {(t, i): c for t, i, c in db.session.execute(link_q)}
    contact_q = select(CadenceContact).where(CadenceContact.portal_id == portal_id)
    if wanted is not None:
        owners = [(COMPANY, c) for c in wanted] + list(links)
        contact_q = contact_q.where(_pairs_condition(CadenceContact.owner_type_id,
                                                     CadenceContact.owner_id, owners))
    per_company: dict[int, dict[int, tuple[rules.Contact, str]]] = {}
    for c in db.session.scalars(contact_q):
        company = c.owner_id if c.owner_type_id == COMPANY else links.get(
            (c.owner_type_id, c.owner_id))
        if company is None or company not in rows:
            continue
        bound = f"{ENTITY_NAMES[c.owner_type_id]}:{c.owner_id}"
        seen = per_company.setdefault(company, {})
        if c.activity_id not in seen or c.owner_type_id == COMPANY:
            seen[c.activity_id] = (rules.Contact(c.activity_id, c.channel, c.direction, c.at,
                                                 c.by), bound)
    for company_id, row in rows.items():
        found = per_company.get(company_id, {})
        contacts = [contact for contact, _ in found.values()]
        call, email = rules.latest(contacts, rules.CALL), rules.latest(contacts, rules.EMAIL)
        last = rules.latest(contacts)
        row.last_call_at = call.at if call else None
        row.last_call_by = call.by if call else None
        row.last_call_direction = call.direction if call else None
        row.last_call_bound = found[call.activity_id][1] if call else None
        row.last_email_at = email.at if email else None
        row.last_email_by = email.by if email else None
        row.last_email_direction = email.direction if email else None
        row.last_email_bound = found[email.activity_id][1] if email else None
        row.last_contact_at = last.at if last else None
        row.last_channel = last.channel if last else None
        row.last_contact_by = last.by if last else None
        row.last_contact_direction = last.direction if last else None
        row.last_contact_bound = found[last.activity_id][1] if last else None
        _set_due(row, settings, tz)
    db.session.flush()
    return len(rows)


def _set_due(row: CadenceCompany, settings: Settings, tz: tzinfo) -> None:
    interval = settings.intervals.get(row.category or "")
    start = rules.local_date(row.last_contact_at, tz) if row.last_contact_at else row.created_on
    if interval is None or start is None:
        row.due_at = row.warn_from = None
        return
    row.due_at = rules.add_interval(start, interval)
    row.warn_from = (row.due_at - timedelta(days=interval.warning_days)
                     if interval.warning_days else None)


# -- the full resync --------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    method: str
    select: tuple[str, ...]
    filter: tuple[tuple[str, Any], ...] = ()
    upper: bool = False  # FILTER/SORT/ORDER parameters (voximplant.statistic.get)

    def params(self, window: Mapping[str, Any], *, descending: bool = False) -> dict[str, Any]:
        wanted = {**dict(self.filter), **window}
        if self.upper:
            return {"FILTER": wanted, "SORT": "ID", "ORDER": "DESC" if descending else "ASC",
                    "start": -1}
        return {"filter": wanted, "select": list(self.select) if not descending else ["ID"],
                "order": {"ID": "DESC" if descending else "ASC"}, "start": -1}


def stages(settings: Settings) -> tuple[Stage, ...]:
    types = [rules.TYPE_CALL, rules.TYPE_EMAIL] + (
        [rules.TYPE_MEETING] if settings.options.meetings else [])
    return (
        Stage("crm.company.list", ("ID", "TITLE", "ASSIGNED_BY_ID", "DATE_CREATE",
                                   settings.category_field)),
        Stage("crm.contact.list", ("ID", "COMPANY_ID")),
        Stage("crm.deal.list", ("ID", "COMPANY_ID")),
        Stage("crm.lead.list", ("ID", "COMPANY_ID")),
        Stage(STATISTIC_METHOD, ("ID", "CRM_ACTIVITY_ID", "CALL_FAILED_CODE", "CALL_DURATION"),
              upper=True),
        Stage("crm.activity.list", tuple(ACTIVITY_SELECT), (("@TYPE_ID", types),)),
    )


STAGE_TYPES = {"crm.contact.list": CONTACT, "crm.deal.list": DEAL, "crm.lead.list": LEAD}


def resync_state(portal_id: int) -> CadenceResync | None:
    return db.session.get(CadenceResync, portal_id)


def start_resync(portal_id: int, now: datetime) -> CadenceResync:
    """Start (or restart) a full resync from its beginning."""
    row = db.session.get(CadenceResync, portal_id) or CadenceResync(portal_id=portal_id)
    row.state, row.stage, row.cursor, row.top, row.requests = RUNNING, 0, 0, -1, 0
    row.started_at, row.finished_at, row.error = now, None, None
    db.session.add(row)
    db.session.execute(delete(CadenceLink).where(CadenceLink.portal_id == portal_id))
    db.session.execute(delete(CadenceContact).where(CadenceContact.portal_id == portal_id))
    db.session.execute(delete(CadenceCallStat).where(CadenceCallStat.portal_id == portal_id))
    db.session.commit()
    return row


def progress(row: CadenceResync | None, portal_id: int) -> dict[str, Any]:
    if row is None:
        return {"state": "idle", "percent": 0, "requests": 0, "stage": None}
    count = len(stages(settings_of(portal_id)))
    inside = (min(row.cursor, row.top) / row.top) if row.top and row.top > 0 else 0.0
    percent = 100 if row.state == DONE else int(100 * (row.stage + inside) / count)
    names = stages(settings_of(portal_id))
    return {"state": row.state, "percent": percent, "requests": row.requests,
            "stage": names[row.stage].method if row.stage < count else None,
            "started_at": row.started_at, "finished_at": row.finished_at, "error": row.error}


def _rows_of(result: Any) -> list[dict[str, Any]]:
    if isinstance(result, dict):
        result = next((v for v in result.values() if isinstance(v, list)), [])
    return [r for r in result or [] if isinstance(r, dict)]


def _top_id(client: PortalClient, stage: Stage) -> int:
    result = client.call_raw(stage.method, stage.params({}, descending=True))
    rows = _rows_of(result.get("result"))
    return _int(rows[0].get("ID")) or 0 if rows else 0


def read_windows(client: PortalClient, stage: Stage, cursor: int, top: int
                 ) -> tuple[list[dict[str, Any]], int]:
    """One ``batch`` request of up to 50 ``start=-1`` pages, each an ID window of 50 above
    ``cursor``: the rows, and the new cursor. A window is as wide as a page (50 ids), so even
    a window where every id matches fits in its page: nothing is read twice."""
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    for k in range(WINDOWS):
        low = cursor + k * PAGE
        if low >= top:
            break
        commands[str(k)] = (stage.method, stage.params({">ID": low, "<=ID": low + PAGE}))
    results = client.batch(commands)
    rows: list[dict[str, Any]] = []
    for k in range(len(commands)):
        rows.extend(_rows_of(results.get(str(k))))
    return rows, min(cursor + len(commands) * PAGE, top)


def resync_step(*, portal: Portal, client: PortalClient, tz: tzinfo, now: datetime) -> bool:
    """One step of the running resync (one ``batch`` request); True when it has finished."""
    row = db.session.get(CadenceResync, portal.id)
    if row is None or row.state != RUNNING:
        return True
    settings = settings_of(portal.id)
    all_stages = stages(settings)
    try:
        if row.stage >= len(all_stages):
            return _finish(row, portal.id, tz, now)
        stage = all_stages[row.stage]
        if row.top < 0:
            try:
                row.top = _top_id(client, stage)
            except PortalError as exc:
                if not (stage.upper and exc.code == "ACCESS_DENIED"):
                    raise
                row.top = 0  # no statistics for this caller: the activities alone decide
            row.requests += 1
        if row.cursor >= row.top:
            row.stage, row.cursor, row.top = row.stage + 1, 0, -1
            db.session.commit()
            return False
        found, row.cursor = read_windows(client, stage, row.cursor, row.top)
        row.requests += 1
        _store(portal.id, stage, found, settings, tz, row.started_at or now)
        db.session.commit()
        return False
    except PortalError as exc:
        db.session.rollback()
        row = db.session.get(CadenceResync, portal.id)
        assert row is not None
        row.error = str(exc)[:500]
        db.session.commit()
        raise


def _store(portal_id: int, stage: Stage, found: list[dict[str, Any]], settings: Settings,
           tz: tzinfo, started_at: datetime) -> None:
    if stage.method == "crm.company.list":
        ids = [_int(c.get("ID")) for c in found]
        existing = {r.company_id: r for r in db.session.scalars(select(CadenceCompany).where(
            CadenceCompany.portal_id == portal_id,
            CadenceCompany.company_id.in_([i for i in ids if i])))}
        for company in found:
            company_id = _int(company.get("ID"))
            if not company_id:
                continue
            row = existing.get(company_id) or CadenceCompany(portal_id=portal_id,
                                                             company_id=company_id)
            _fill_company(row, company, settings, tz)
            row.seen_at = started_at
            db.session.add(row)
    elif stage.method in STAGE_TYPES:
        type_id = STAGE_TYPES[stage.method]
        _insert_new(CadenceLink, [
            {"portal_id": portal_id, "entity_type_id": type_id, "entity_id": item_id,
             "company_id": company_id}
            for item_id, company_id in ((_int(i.get("ID")), _int(i.get("COMPANY_ID")))
                                        for i in found) if item_id and company_id])
    elif stage.upper:
        _insert_new(CadenceCallStat, [
            {"portal_id": s.portal_id, "activity_id": s.activity_id, "code": s.code,
             "duration": s.duration}
            for s in (_stat_row(portal_id, r) for r in found) if s is not None])
    else:
        calls = [a for a in (_int(x.get("ID")) for x in found if _needs_statistic(x)) if a]
        stats = {r.activity_id: r for r in db.session.scalars(select(CadenceCallStat).where(
            CadenceCallStat.portal_id == portal_id,
            CadenceCallStat.activity_id.in_(calls)))} if calls else {}
        contacts: list[dict[str, Any]] = []
        for activity in found:
            statistic = _stat_json(stats.get(_int(activity.get("ID")) or 0))
            for c in contact_rows(portal_id, activity, settings.options, statistic):
                contacts.append({"portal_id": c.portal_id, "activity_id": c.activity_id,
                                 "owner_type_id": c.owner_type_id, "owner_id": c.owner_id,
                                 "channel": c.channel, "direction": c.direction, "at": c.at,
                                 "by": c.by})
        _insert_new(CadenceContact, contacts)
    db.session.flush()


def _insert_new(model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose primary key is not stored yet (one query to find them, one
    bulk insert): a step read again after an interruption adds nothing twice."""
    if not rows:
        return
    keys = [c.name for c in model.__table__.primary_key.columns]
    unique = {tuple(r[k] for k in keys): r for r in rows}
    portal_id = rows[0]["portal_id"]
    narrow = max(range(1, len(keys)), key=lambda n: len({key[n] for key in unique}))
    have = {tuple(k) for k in db.session.execute(
        select(*(getattr(model, k) for k in keys)).where(
            model.portal_id == portal_id,
            getattr(model, keys[narrow]).in_({key[narrow] for key in unique})))}
    fresh = [r for key, r in unique.items() if key not in have]
    if fresh:
        db.session.execute(insert(model), fresh)


def _finish(row: CadenceResync, portal_id: int, tz: tzinfo, now: datetime) -> bool:
    started = row.started_at or now
    db.session.execute(delete(CadenceCompany).where(
        CadenceCompany.portal_id == portal_id,
        or_(CadenceCompany.seen_at.is_(None), CadenceCompany.seen_at < started)))
    refresh(portal_id, None, tz=tz)
    row.state, row.finished_at = DONE, now
    db.session.commit()
    return True


def run_resync(*, portal: Portal, client: PortalClient, tz: tzinfo, now: datetime,
               restart: bool = True) -> CadenceResync:
    """The whole resync at once (a job; tests). ``restart`` False resumes a running one."""
    row = resync_state(portal.id)
    if restart or row is None or row.state != RUNNING:
        start_resync(portal.id, now)
    try:
        while not resync_step(portal=portal, client=client, tz=tz, now=now):
            pass
    except PortalError:
        row = resync_state(portal.id)
        if row is not None:
            row.state = FAILED
            db.session.commit()
        raise
    result = resync_state(portal.id)
    assert result is not None
    return result


# -- the report -------------------------------------------------------------------------------
REPORT_STATES = ("all", "overdue", "warning", "ok", "no_category", "not_overdue")
SORTS = {"title": CadenceCompany.title, "category": CadenceCompany.category,
         "due_at": CadenceCompany.due_at, "last_call_at": CadenceCompany.last_call_at,
         "last_email_at": CadenceCompany.last_email_at,
         "responsible_id": CadenceCompany.responsible_id,
         "days_overdue": CadenceCompany.due_at}  # more overdue = earlier due date


@dataclass(frozen=True)
class Filters:
    responsible: int | None = None
    department: int | None = None
    category: str | None = None  # A | B | C | none
    state: str = "all"
    q: str = ""
    sort: str = "due_at"


def visible_responsibles(portal_id: int, viewer: PortalUser | None) -> set[int] | None:
    """Whose companies ``viewer`` sees: None for everyone (administrators)."""
    if viewer is None:
        return set()
    departments = list(db.session.scalars(select(Department).where(
        Department.portal_id == portal_id)))
    role = role_of(viewer, head_ids(departments))
    if role == ADMIN:
        return None
    seen = {viewer.portal_user_id}
    if role == HEAD:
        scope = headed_subtree(viewer, departments)
        for user in db.session.scalars(select(PortalUser).where(
                PortalUser.portal_id == portal_id)):
            if scope.intersection(user.department_ids or []):
                seen.add(user.portal_user_id)
    return seen


def _department_members(portal_id: int, department: int) -> set[int]:
    return {u.portal_user_id for u in db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal_id)) if department in (u.department_ids or [])}


def visible_query(portal_id: int, viewer: PortalUser | None) -> Any:
    """The report's rows ``viewer`` may see (their own, their department's, all)."""
    query = select(CadenceCompany).where(CadenceCompany.portal_id == portal_id)
    visible = visible_responsibles(portal_id, viewer)
    if visible is not None:
        query = query.where(CadenceCompany.responsible_id.in_(visible))
    return query


def state_condition(state: str, today: date) -> Any:
    """The SQL condition of a report state (None for ``all``)."""
    due, warn = CadenceCompany.due_at, CadenceCompany.warn_from
    not_warned = or_(warn.is_(None), warn > today)
    return {
        rules.OVERDUE: due < today,
        rules.WARNING: and_(due >= today, warn <= today),
        rules.OK: and_(due >= today, not_warned),
        rules.NO_CATEGORY: CadenceCompany.category.is_(None),
        "not_overdue": due >= today,
    }.get(state)


def category_condition(category: str) -> Any:
    if category == "none":
        return CadenceCompany.category.is_(None)
    return CadenceCompany.category == category


def department_condition(portal_id: int, department: int) -> Any:
    return CadenceCompany.responsible_id.in_(_department_members(portal_id, department))


def title_condition(text: str) -> Any:
    return func.lower(CadenceCompany.title).contains(text.lower(), autoescape=True)


def _query(portal_id: int, viewer: PortalUser | None, filters: Filters, today: date) -> Any:
    query = visible_query(portal_id, viewer)
    if filters.responsible is not None:
        query = query.where(CadenceCompany.responsible_id == filters.responsible)
    if filters.department is not None:
        query = query.where(department_condition(portal_id, filters.department))
    if filters.category:
        query = query.where(category_condition(filters.category))
    if filters.q:
        query = query.where(title_condition(filters.q))
    state_filter = state_condition(filters.state, today)
    if state_filter is not None:
        query = query.where(state_filter)
    return query


def _order(query: Any, sort: str) -> Any:
    descending = sort.startswith("-")
    column = SORTS.get(sort.lstrip("-"), CadenceCompany.due_at)
    if sort.lstrip("-") == "days_overdue":
        descending = not descending
    ordered = column.desc() if descending else column.asc()
    return query.order_by(ordered.nulls_last(), CadenceCompany.company_id)


def row_state(row: CadenceCompany, today: date) -> rules.Standing:
    if row.category is None or row.due_at is None:
        return rules.Standing(None, rules.NO_CATEGORY, 0)
    if today > row.due_at:
        return rules.Standing(row.due_at, rules.OVERDUE, (today - row.due_at).days)
    if row.warn_from is not None and today >= row.warn_from:
        return rules.Standing(row.due_at, rules.WARNING, 0)
    return rules.Standing(row.due_at, rules.OK, 0)


def report_page(*, portal_id: int, viewer: PortalUser | None, filters: Filters, today: date,
                page: int = 1, per_page: int = 50) -> Page[CadenceCompany]:
    query = _query(portal_id, viewer, filters, today)
    total = int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = list(db.session.scalars(_order(query, filters.sort)
                                   .offset((page - 1) * per_page).limit(per_page)))
    return Page(rows, page, per_page, total)


def report_all(*, portal_id: int, viewer: PortalUser | None, filters: Filters,
               today: date) -> list[CadenceCompany]:
    return list(db.session.scalars(_order(_query(portal_id, viewer, filters, today),
                                          filters.sort)))


def load(*, portal_id: int, viewer: PortalUser | None, filters: Filters,
         today: date) -> list[dict[str, Any]]:
    """Per responsible: companies per category and per state (the charts' figures), counted
    in SQL."""
    query = _query(portal_id, viewer, filters, today).subquery()
    overdue = query.c.due_at < today
    warned = and_(query.c.due_at >= today, query.c.warn_from <= today)
    per: dict[int | None, dict[str, Any]] = {}
    for responsible, category, is_overdue, is_warned, count in db.session.execute(
            select(query.c.responsible_id, query.c.category, overdue, warned, func.count())
            .group_by(query.c.responsible_id, query.c.category, overdue, warned)):
        entry = per.setdefault(responsible, {
            "responsible_id": responsible,
            "categories": {"A": 0, "B": 0, "C": 0, "none": 0},
            "states": {s: 0 for s in rules.STATES}, "total": 0})
        entry["categories"][category or "none"] += count
        state = (rules.NO_CATEGORY if category is None or is_overdue is None
                 else rules.OVERDUE if is_overdue
                 else rules.WARNING if is_warned else rules.OK)
        entry["states"][state] += count
        entry["total"] += count
    return [per[k] for k in sorted(per, key=lambda k: (k is None, k or 0))]


# -- planning a call --------------------------------------------------------------------------
def _phone_of(item: Mapping[str, Any] | None) -> str | None:
    for entry in (item or {}).get("PHONE") or []:
        value = str((entry or {}).get("VALUE") or "").strip()
        if value:
            return value
    return None


def plannable(portal_id: int, viewer: PortalUser | None, company_id: int) -> CadenceCompany:
    """The report's row of a company ``viewer`` may plan a call on; CadenceError otherwise."""
    row = _company_row(portal_id, company_id)
    visible = visible_responsibles(portal_id, viewer)
    if row is None or (visible is not None and row.responsible_id not in visible):
        raise CadenceError("company_id", f"There is no company {company_id} in the report.")
    return row


def tomorrow_at(now: datetime, tz: tzinfo, hour: int) -> datetime:
    """Tomorrow (portal time) at ``hour`` o'clock, as naive UTC."""
    day = rules.local_date(now, tz) + timedelta(days=1)
    local = datetime.combine(day, clock_time(hour), tzinfo=tz)
    return local.astimezone(UTC).replace(tzinfo=None)


def plan_call(*, portal: Portal, client: PortalClient, viewer: PortalUser | None,
              company_id: int, when: datetime, now: datetime) -> dict[str, Any]:
    """A planned call on the company for its responsible at ``when`` (naive UTC), with the
    company's phone or, failing that, its main contact's as the communication."""
    if when <= now:
        raise CadenceError("when", "'when' must be in the future.")
    row = plannable(portal.id, viewer, company_id)
    company = client.call("crm.company.get", {"id": company_id})
    phone, entity = _phone_of(company), (COMPANY, company_id)
    if phone is None:
        contacts = client.call("crm.contact.list", {
            "filter": {"COMPANY_ID": company_id}, "select": ["ID", "PHONE"],
            "order": {"ID": "ASC"}}) or []
        for contact in contacts:
            phone = _phone_of(contact)
            if phone is not None:
                entity = (CONTACT, int(contact["ID"]))
                break
    if phone is None:
        raise CadenceError("company_id", "Neither the company nor its contacts have a phone "
                                         "number to call.")
    from portal_ext.absences.times import iso_local

    tz = portal_zone()
    responsible = row.responsible_id or (viewer.portal_user_id if viewer else None)
    activity_id = client.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": COMPANY, "OWNER_ID": company_id, "TYPE_ID": rules.TYPE_CALL,
        "SUBJECT": f"Call {row.title}".strip(), "RESPONSIBLE_ID": responsible,
        "DIRECTION": 2, "COMPLETED": "N", "START_TIME": iso_local(when, tz),
        "END_TIME": iso_local(when + timedelta(minutes=15), tz),
        "COMMUNICATIONS": [{"VALUE": phone, "TYPE": "PHONE", "ENTITY_TYPE_ID": entity[0],
                            "ENTITY_ID": entity[1]}]}})
    return {"activity_id": int(activity_id), "company_id": company_id,
            "responsible_id": responsible, "phone": phone, "when": iso_local(when, tz)}

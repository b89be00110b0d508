"""The stage robots' reads and writes: robots (validated before saving, versioned, revertible),
firing them once per stage entry, the task they create, the preview, the runs and the broken
robots' report (rules.py decides; this module reads, writes and commits).

How an entry is seen:

- in-process, from the item's update (or add) event, before and after
  (:func:`on_item_change`); the entry's identity is still the stage history's record (the
  latest entry of the item into that stage), ``<stage>@<time>`` only on a portal without one;
- over REST, where an event carries only the id, from the portal's stage history
  (``crm.stagehistory.list``): one record per entry, its id the key ``h<id>``
  (:func:`on_item_event`), read again by the periodic catch-up (:func:`catch_up`).

A run is claimed before its task is made: the row (robot, item, entry key) is unique, so a
replayed or reordered event, the catch-up and a restart find it and make nothing.

:func:`create_task_for` is the one way a task of a robot is made (the stage robots here, and
a robot placed in the portal's own automation): the title and description rendered for the
item, the responsible by the rule, the deadline in working time from the entry, auditors,
``TASK_CONTROL``, the checklist, the binding ``UF_CRM_TASK`` (``L_12``) and the deadline
guard's robots' policy (or the robot's own mode).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal_ext.context import Context
from portal_ext.deadlines import rules as deadline_rules
from portal_ext.deadlines import services as deadlines
from portal_ext.directory.models import Department, PortalUser
from portal_ext.errors import CONFLICT, FORBIDDEN, NOT_FOUND, FieldChecks
from portal_ext.extensions import db
from portal_ext.i18n import reader_language
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal
from portal_ext.robots import rules
from portal_ext.robots.errors import RobotError
from portal_ext.robots.models import (
    CLOSE,
    CLOSED,
    CREATE,
    CREATED,
    DEAL,
    DELETE,
    DISABLE,
    ENABLE,
    ENTITIES,
    FAILED,
    KEEP,
    LEAD,
    ON_LEAVE,
    PENDING,
    REVERT,
    SKIPPED,
    UPDATE,
    RobotCursor,
    RobotHolidays,
    RobotRun,
    RobotVersion,
    StageRobot,
)
from portal_ext.working_time import WorkCalendar, parse_holidays, read_calendar

log = logging.getLogger(__name__)

FIELDS: tuple[str, ...] = ("entity", "category_id", "status_id", "title", "description",
                           "responsible", "deadline_hours", "deadline_days", "policy",
                           "auditors", "task_control", "checklist", "on_leave", "enabled")
ENTITY_TYPE_IDS = {LEAD: 1, DEAL: 2}
BINDING_PREFIX = {LEAD: "L", DEAL: "D"}
STAGE_FIELD = {LEAD: "STATUS_ID", DEAL: "STAGE_ID"}
EVENT_ENTITIES = {"LEAD": LEAD, "DEAL": DEAL}
DONE_STATUSES = {"4", "5"}  # awaiting control, completed
_CACHE_SECONDS = 60.0
_CACHE = "portal_ext.robots.cache"


def _cache() -> dict[tuple[Any, ...], tuple[float, Any]]:
    found: dict[tuple[Any, ...], tuple[float, Any]] = current_app.extensions.setdefault(
        _CACHE, {})
    return found


def _cached(key: tuple[Any, ...], read: Any) -> Any:
    """A portal answer read at most once a minute per app (stage names, the calendar)."""
    hit = _cache().get(key)
    if hit is not None and time.monotonic() - hit[0] < _CACHE_SECONDS:
        return hit[1]
    value = read()
    _cache()[key] = (time.monotonic(), value)
    return value


def forget_cache() -> None:
    _cache().clear()


def iso(value: datetime | None) -> str | None:
    return deadlines.iso(value)


# -- reading the portal -------------------------------------------------------------------------
def status_entity_id(entity: str, category_id: int | None) -> str:
    if entity == LEAD:
        return "STATUS"
    return "DEAL_STAGE" if not category_id else f"DEAL_STAGE_{category_id}"


def stages(ctx: Context, entity: str, category_id: int | None) -> dict[str, str]:
    """Stage id -> name of a lead's statuses or a pipeline's deal stages (``crm.status.list``)."""
    rows = ctx.client.call("crm.status.list", {
        "filter": {"ENTITY_ID": status_entity_id(entity, category_id)},
        "order": {"SORT": "ASC"}})
    return {str(r["STATUS_ID"]): str(r.get("NAME") or r["STATUS_ID"])
            for r in rows or [] if isinstance(r, Mapping)}


def _stage_names(ctx: Context, entity: str, category_id: int | None) -> dict[str, str]:
    return dict(_cached(("stages", ctx.portal.id, entity, category_id or 0),
                        lambda: stages(ctx, entity, category_id)))


def pipelines(ctx: Context) -> dict[int, str]:
    """Deal pipelines (``crm.category.list``): id -> name."""
    answer = ctx.client.call("crm.category.list", {"entityTypeId": 2})
    rows = answer.get("categories", []) if isinstance(answer, Mapping) else answer or []
    return {int(r["id"]): str(r.get("name") or "") for r in rows}


def calendar(ctx: Context) -> WorkCalendar:
    """The portal's working calendar plus the holidays the administrator added."""
    base: WorkCalendar = _cached(("calendar", ctx.portal.id),
                                 lambda: read_calendar(ctx.client, ctx.tz))
    extra = db.session.get(RobotHolidays, ctx.portal.id)
    if extra is None or not extra.year_holidays:
        return base
    return WorkCalendar(start=base.start, end=base.end, weekend=base.weekend,
                        holidays=base.holidays | parse_holidays(extra.year_holidays),
                        zone=base.zone)


# -- people ---------------------------------------------------------------------------------------
def _people(portal: Portal) -> dict[int, PortalUser]:
    return {u.portal_user_id: u for u in db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id))}


def heads_of(portal: Portal, user_id: int | None) -> list[int]:
    """The heads of ``user_id``'s departments and those above, nearest first."""
    if not user_id:
        return []
    user = db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id, PortalUser.portal_user_id == user_id)).first()
    if user is None:
        return []
    departments = list(db.session.scalars(select(Department).where(
        Department.portal_id == portal.id)))
    parents = {d.portal_department_id: d.parent_portal_id for d in departments}
    heads = {d.portal_department_id: d.head_portal_user_id for d in departments}
    return deadline_rules.heads_above(list(user.department_ids or []), parents, heads)


# -- validation -----------------------------------------------------------------------------------
def _int_or_none(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise RobotError(name, _("'%(field)s' must be a whole number.", field=name))
    return value


def _bool(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise RobotError(name, _("'%(field)s' must be true or false.", field=name))
    return value


def _user_ref(ctx: Context, value: Any, name: str, people: Mapping[int, PortalUser],
              *, allowed: Sequence[str]) -> str:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(
        value, bool) else ""
    if text in allowed:
        return text
    if not text.isdigit() or not 0 < int(text) <= 2_147_483_647:
        raise RobotError(name, _("'%(field)s' must be %(choices)s or a user id.", field=name,
                                 choices=", ".join(allowed)))
    user = people.get(int(text))
    if user is None:
        raise RobotError(name, _("There is no user %(id)s on the portal.", id=text))
    if not user.active:
        raise RobotError(name, _("%(name)s is dismissed.", name=user.full_name))
    return text


def _template(body: Mapping[str, Any], name: str, *, required: bool, limit: int) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RobotError(name, _("'%(field)s' must be text.", field=name))
    text = value.strip()
    if required and not text:
        raise RobotError(name, _("'%(field)s' is required.", field=name))
    if len(text) > limit:
        raise RobotError(name, _("'%(field)s' is longer than %(n)s characters.", field=name,
                                 n=limit))
    unknown = rules.unknown_placeholders(text)
    if unknown:
        raise RobotError(name, _("Unknown placeholder {%(name)s} in '%(field)s'; known: "
                                 "%(known)s.", name=unknown[0], field=name,
                                 known=" ".join(f"{{{p}}}" for p in rules.PLACEHOLDERS)))
    return text


def _entity(merged: Mapping[str, Any]) -> str:
    entity = merged.get("entity")
    if entity not in ENTITIES:
        raise RobotError("entity", _("'entity' must be one of: %(values)s.",
                                     values=", ".join(ENTITIES)))
    return str(entity)


def _category(ctx: Context, merged: Mapping[str, Any], entity: str) -> int | None:
    category_id = _int_or_none(merged, "category_id")
    if entity == LEAD:
        return None
    category_id = category_id or 0
    try:
        known_pipelines = pipelines(ctx)
    except PortalError as exc:
        raise RobotError("category_id", _("The portal did not list its pipelines: "
                                          "%(why)s", why=str(exc))) from exc
    if category_id not in known_pipelines:
        raise RobotError("category_id", _("There is no deal pipeline %(id)s on the "
                                          "portal.", id=category_id))
    return category_id


def _stage(ctx: Context, merged: Mapping[str, Any], entity: str | None,
           category_id: int | None) -> str:
    status_id = merged.get("status_id")
    if not isinstance(status_id, str) or not status_id.strip():
        raise RobotError("status_id", _("'status_id' is required."))
    status_id = status_id.strip()
    if entity is None:  # refused already: the stage cannot be looked up
        return status_id
    try:
        known = stages(ctx, entity, category_id)
    except PortalError as exc:
        raise RobotError("status_id", _("The portal did not list its stages: %(why)s",
                                        why=str(exc))) from exc
    if status_id not in known:
        raise RobotError("status_id", _("There is no stage %(stage)s for %(entity)s on the "
                                        "portal.", stage=status_id, entity=entity))
    return status_id


def _deadline(body: Mapping[str, Any], merged: Mapping[str, Any]
              ) -> tuple[int | None, int | None]:
    hours, days = _int_or_none(merged, "deadline_hours"), _int_or_none(merged, "deadline_days")
    if "deadline_hours" in body and body.get("deadline_hours") not in (None, ""):
        days = None if "deadline_days" not in body else days
    elif "deadline_days" in body and body.get("deadline_days") not in (None, ""):
        hours = None
    if hours is not None and days is not None:
        raise RobotError("deadline_days", _("Give 'deadline_hours' or 'deadline_days', not "
                                            "both."))
    if hours is None and days is None:
        raise RobotError("deadline_hours", _("Give the deadline: 'deadline_hours' or "
                                             "'deadline_days'."))
    if hours is not None and not 0 < hours <= rules.MAX_HOURS:
        raise RobotError("deadline_hours", _("'deadline_hours' must be from 1 to %(n)s.",
                                             n=rules.MAX_HOURS))
    if days is not None and not 0 < days <= rules.MAX_DAYS:
        raise RobotError("deadline_days", _("'deadline_days' must be from 1 to %(n)s.",
                                            n=rules.MAX_DAYS))
    return hours, days


def _policy(merged: Mapping[str, Any]) -> str:
    policy = merged.get("policy") or ""
    if policy not in ("", *deadline_rules.MODES):
        raise RobotError("policy", _("'policy' must be empty (the robots' policy) or one of: "
                                     "%(modes)s.", modes=", ".join(deadline_rules.MODES)))
    return str(policy)


def _auditors(ctx: Context, merged: Mapping[str, Any], people: Mapping[int, PortalUser]
              ) -> list[str]:
    auditors_in = merged.get("auditors") or []
    if not isinstance(auditors_in, list) or len(auditors_in) > 20:
        raise RobotError("auditors", _("'auditors' must be a list of user ids or 'head'."))
    return [_user_ref(ctx, a, "auditors", people, allowed=(rules.HEAD,)) for a in auditors_in]


def _checklist(merged: Mapping[str, Any]) -> list[str]:
    checklist_in = merged.get("checklist") or []
    if not isinstance(checklist_in, list) or len(checklist_in) > rules.MAX_CHECKLIST or any(
            not isinstance(c, str) or not c.strip() or len(c) > 255 for c in checklist_in):
        raise RobotError("checklist", _("'checklist' must be a list of at most %(n)s "
                                        "non-empty lines.", n=rules.MAX_CHECKLIST))
    return [c.strip() for c in checklist_in]


def _on_leave(merged: Mapping[str, Any]) -> str:
    on_leave = merged.get("on_leave") or KEEP
    if on_leave not in ON_LEAVE:
        raise RobotError("on_leave", _("'on_leave' must be one of: %(values)s.",
                                       values=", ".join(ON_LEAVE)))
    return str(on_leave)


def validated(ctx: Context, body: Mapping[str, Any],
              current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The robot ``body`` describes (over ``current`` for a change), checked against the
    portal: the stage exists (``crm.status.list``, pipelines ``crm.category.list``), every
    placeholder is known, the responsible and auditors resolve to active users, the deadline is
    positive and bounded, the policy exists. Else a refusal naming the field, or a Refusals
    group (portal_ext.errors) naming every bad field at once."""
    checks = FieldChecks()
    for name in body:
        if name not in FIELDS:
            checks.add(RobotError(name, _("Unknown field '%(field)s'.", field=name)))
    merged: dict[str, Any] = {**(current or {}), **body}
    people = _people(ctx.portal)
    entity: str | None = None
    category_id: int | None = None
    clean: dict[str, Any] = {}
    with checks:
        entity = _entity(merged)
    place_known = entity is not None  # the stage is looked up in a known entity and pipeline
    with checks:
        category_id = _category(ctx, merged, entity) if entity is not None else None
    with checks:
        place_known = place_known and all(r.field != "category_id" for r in checks.found)
        clean["status_id"] = _stage(ctx, merged, entity if place_known else None, category_id)
    with checks:
        clean["title"] = _template(merged, "title", required=True, limit=255)
    with checks:
        clean["description"] = _template(merged, "description", required=False, limit=10_000)
    with checks:
        clean["responsible"] = _user_ref(ctx, merged.get("responsible") or rules.RESPONSIBLE,
                                         "responsible", people,
                                         allowed=(rules.RESPONSIBLE, rules.HEAD))
    with checks:
        clean["deadline_hours"], clean["deadline_days"] = _deadline(body, merged)
    with checks:
        clean["policy"] = _policy(merged)
    with checks:
        clean["auditors"] = [int(a) if a.isdigit() else a
                             for a in _auditors(ctx, merged, people)]
    with checks:
        clean["checklist"] = _checklist(merged)
    with checks:
        clean["on_leave"] = _on_leave(merged)
    with checks:
        clean["task_control"] = _bool(merged, "task_control", False)
    with checks:
        clean["enabled"] = _bool(merged, "enabled", True)
    checks.done()
    return {"entity": entity, "category_id": category_id, **clean}


# -- robots ----------------------------------------------------------------------------------------
def fields_of(robot: StageRobot) -> dict[str, Any]:
    return {name: getattr(robot, name) for name in FIELDS}


def robot_json(robot: StageRobot) -> dict[str, Any]:
    return {"id": robot.id, **fields_of(robot), "auditors": list(robot.auditors or []),
            "checklist": list(robot.checklist or []), "version": robot.version,
            "broken": robot.broken, "broken_field": robot.broken_field,
            "created_by": robot.created_by_id, "created_at": iso(robot.created_at),
            "updated_by": robot.updated_by_id, "updated_at": iso(robot.updated_at)}


def version_json(row: RobotVersion) -> dict[str, Any]:
    return {"version": row.version, "action": row.action, "changed": list(row.changed or []),
            "fields": dict(row.fields or {}), "actor_id": row.actor_id, "at": iso(row.at)}


def _require_admin(ctx: Context) -> None:
    if ctx.actor is not None and not ctx.actor.is_admin:
        raise RobotError(None, _("Only administrators change stage robots."), FORBIDDEN)


def list_robots(portal: Portal) -> list[StageRobot]:
    return list(db.session.scalars(select(StageRobot).where(
        StageRobot.portal_id == portal.id).order_by(StageRobot.id)))


def get_robot(portal: Portal, robot_id: int) -> StageRobot:
    robot = db.session.get(StageRobot, robot_id)
    if robot is None or robot.portal_id != portal.id:
        raise RobotError(None, _("There is no stage robot %(id)s.", id=robot_id), NOT_FOUND)
    return robot


def versions(robot: StageRobot) -> list[RobotVersion]:
    return list(db.session.scalars(select(RobotVersion).where(
        RobotVersion.robot_id == robot.id).order_by(RobotVersion.version.desc())))


def _snapshot(ctx: Context, robot: StageRobot, action: str, changed: Iterable[str]) -> None:
    db.session.add(RobotVersion(portal_id=robot.portal_id, robot_id=robot.id,
                                version=robot.version, action=action, fields=fields_of(robot),
                                changed=list(changed),
                                actor_id=ctx.actor.portal_user_id if ctx.actor else None,
                                at=ctx.now))


def _apply(ctx: Context, robot: StageRobot, clean: Mapping[str, Any]) -> list[str]:
    changed = [k for k in FIELDS if getattr(robot, k, None) != clean[k]]
    was_enabled = bool(robot.enabled)
    for name in FIELDS:
        setattr(robot, name, clean[name])
    if changed and (not was_enabled or {"entity", "category_id", "status_id"} & set(changed)):
        robot.active_since = ctx.now  # a robot fires only for entries from now on
    robot.broken = robot.broken_field = robot.broken_reported_at = None
    robot.updated_by_id = ctx.actor.portal_user_id if ctx.actor else None
    robot.updated_at = ctx.now
    return changed


def create_robot(ctx: Context, body: Mapping[str, Any]) -> StageRobot:
    """Save a new robot (validated first); its version 1. Commits."""
    _require_admin(ctx)
    clean = validated(ctx, body)
    robot = StageRobot(portal_id=ctx.portal.id, version=1, active_since=ctx.now,
                       created_by_id=ctx.actor.portal_user_id if ctx.actor else None,
                       created_at=ctx.now, updated_at=ctx.now)
    _apply(ctx, robot, clean)
    db.session.add(robot)
    db.session.flush()
    _snapshot(ctx, robot, CREATE, FIELDS)
    db.session.commit()
    return robot


def update_robot(ctx: Context, robot: StageRobot, body: Mapping[str, Any], *,
                 action: str = UPDATE) -> StageRobot:
    """Change a robot (validated first, nothing saved on a refusal); a new version when
    anything changed. Commits."""
    _require_admin(ctx)
    clean = validated(ctx, body, fields_of(robot))
    changed = _apply(ctx, robot, clean)  # valid again: no longer broken either way
    if changed:
        robot.version += 1
        if action == UPDATE and changed == ["enabled"]:
            action = ENABLE if robot.enabled else DISABLE
        _snapshot(ctx, robot, action, changed)
    db.session.commit()
    return robot


def set_enabled(ctx: Context, robot: StageRobot, enabled: bool) -> StageRobot:
    return update_robot(ctx, robot, {"enabled": enabled})


def revert_robot(ctx: Context, robot: StageRobot, version: int) -> StageRobot:
    """Back to the fields of ``version`` (checked again against the portal): a new version."""
    _require_admin(ctx)
    row = db.session.scalars(select(RobotVersion).where(
        RobotVersion.robot_id == robot.id, RobotVersion.version == version)).first()
    if row is None:
        raise RobotError("version", _("Robot %(id)s has no version %(v)s.", id=robot.id,
                                      v=version), NOT_FOUND)
    if version == robot.version:
        raise RobotError("version", _("Version %(v)s is the current one.", v=version),
                         CONFLICT)
    fields = {k: v for k, v in (row.fields or {}).items() if k in FIELDS}
    return update_robot(ctx, robot, fields, action=REVERT)


def delete_robot(ctx: Context, robot: StageRobot) -> None:
    """Delete a robot (its versions and runs stay in the history). Commits."""
    _require_admin(ctx)
    robot.version += 1
    _snapshot(ctx, robot, DELETE, ())
    db.session.delete(robot)
    db.session.commit()


# -- broken robots -----------------------------------------------------------------------------
def check_robot(ctx: Context, robot: StageRobot) -> tuple[str, str] | None:
    """Why a saved robot cannot work now (field, reason), or None: its stage (or pipeline)
    gone from the portal, a named user dismissed or gone."""
    try:
        known = _stage_names(ctx, robot.entity, robot.category_id)
    except PortalError as exc:
        log.warning("stage robot %s not checked: %s", robot.id, exc)
        return None
    if robot.status_id not in known:
        return "status_id", _("The stage %(stage)s no longer exists on the portal.",
                              stage=robot.status_id)
    named = [(name, value) for name, value in [("responsible", robot.responsible)] + [
        ("auditors", a) for a in robot.auditors or []] if str(value).isdigit()]
    people = _people(ctx.portal) if named else {}
    for name, value in named:
        if str(value).isdigit():
            user = people.get(int(value))
            if user is None or not user.active:
                who = user.full_name if user else f"#{value}"
                return name, _("%(name)s is dismissed.", name=who)
    return None


def _admins(portal: Portal) -> list[PortalUser]:
    return list(db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id, PortalUser.is_admin.is_(True),
        PortalUser.active.is_(True)).order_by(PortalUser.portal_user_id)))


def mark_broken(ctx: Context, robot: StageRobot, field_name: str, reason: str) -> None:
    """Record why ``robot`` is broken and tell the administrators once (until it is saved
    valid again). Does not commit."""
    if robot.broken == reason and robot.broken_reported_at is not None:
        return
    robot.broken, robot.broken_field = reason, field_name
    log.warning("stage robot %s is broken (%s): %s", robot.id, field_name, reason)
    robot.broken_reported_at = ctx.now
    for admin in _admins(ctx.portal):
        with force_locale(reader_language(admin)):
            text = _("Stage robot #%(id)s (\"%(title)s\") is broken and creates no tasks: "
                     "%(reason)s Fix it: %(link)s", id=robot.id, title=robot.title,
                     reason=reason, link="/robots/" + str(robot.id))
        try:
            ctx.client.call("im.notify.system.add", {
                "USER_ID": admin.portal_user_id, "MESSAGE": text,
                "TAG": f"portal_ext:robot-broken:{robot.id}:{admin.portal_user_id}"})
        except PortalError as exc:
            log.warning("stage robot %s: administrator %s not told: %s", robot.id,
                        admin.portal_user_id, exc)


def check_all(ctx: Context) -> int:
    """Check every enabled robot (the catch-up does, and the list page); commits. Returns how
    many are broken."""
    broken = 0
    forget_cache()
    for robot in list_robots(ctx.portal):
        if not robot.enabled:
            continue
        problem = check_robot(ctx, robot)
        if problem is None:
            if robot.broken is not None:
                robot.broken = robot.broken_field = robot.broken_reported_at = None
            continue
        broken += 1
        mark_broken(ctx, robot, *problem)
    db.session.commit()
    return broken


# -- items ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """What a robot's task needs of a lead or deal."""

    entity: str
    id: int
    stage_id: str | None
    category_id: int | None
    responsible_id: int | None
    values: dict[str, str] = field(default_factory=dict)  # the placeholders' values

    @property
    def binding(self) -> str:
        return f"{BINDING_PREFIX[self.entity]}_{self.id}"


def _first_phone(record: Mapping[str, Any]) -> str:
    phones = record.get("PHONE")
    if isinstance(phones, list) and phones and isinstance(phones[0], Mapping):
        return str(phones[0].get("VALUE") or "")
    return ""


def item_from_record(ctx: Context, entity: str, record: Mapping[str, Any], *,
                     read_more: bool = True) -> Item:
    """An :class:`Item` from a ``crm.lead.get``/``crm.deal.get`` record (``read_more``: the
    deal's company and contact are read for their placeholders)."""
    item_id = int(record.get("ID") or 0)
    category = record.get("CATEGORY_ID")
    category_id = int(str(category or 0)) if entity == DEAL and str(
        category or "0").isdigit() else None
    stage = record.get(STAGE_FIELD[entity])
    responsible = record.get("ASSIGNED_BY_ID")
    responsible_id = int(str(responsible)) if str(responsible or "").isdigit() else None
    assigned = db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == ctx.portal.id,
        PortalUser.portal_user_id == (responsible_id or 0))).first()
    company = str(record.get("COMPANY_TITLE") or "")
    contact = " ".join(str(record.get(k) or "") for k in ("NAME", "LAST_NAME")).strip()
    phone = _first_phone(record)
    if read_more and entity == DEAL:
        try:
            if str(record.get("COMPANY_ID") or "0") not in ("", "0"):
                found = ctx.client.call("crm.company.get", {"id": record["COMPANY_ID"]})
                company = str(found.get("TITLE") or "") if isinstance(found, Mapping) else ""
            if str(record.get("CONTACT_ID") or "0") not in ("", "0"):
                person = ctx.client.call("crm.contact.get", {"id": record["CONTACT_ID"]})
                if isinstance(person, Mapping):
                    contact = " ".join(str(person.get(k) or "")
                                       for k in ("NAME", "LAST_NAME")).strip()
                    phone = phone or _first_phone(person)
        except PortalError as exc:
            log.info("deal %s: company or contact not read: %s", item_id, exc)
    stage_name = ""
    if stage:
        try:
            stage_name = _stage_names(ctx, entity, category_id).get(str(stage), str(stage))
        except PortalError:
            stage_name = str(stage)
    link = ctx.links.crm(ENTITY_TYPE_IDS[entity], item_id) or ""
    values = {"TITLE": str(record.get("TITLE") or ""), "COMPANY_TITLE": company,
              "CONTACT_NAME": contact, "PHONE": phone,
              "ASSIGNED_BY_NAME": assigned.full_name if assigned else "",
              "STATUS_NAME": stage_name, "LINK": link}
    return Item(entity=entity, id=item_id, stage_id=str(stage) if stage else None,
                category_id=category_id, responsible_id=responsible_id, values=values)


def read_item(ctx: Context, entity: str, item_id: int) -> Item:
    """The lead or deal ``item_id`` from the portal; a refusal naming ``item_id`` when it is
    not there."""
    try:
        record = ctx.client.call(f"crm.{entity}.get", {"id": item_id})
    except PortalError as exc:
        raise RobotError("item_id", _("The portal did not give %(entity)s %(id)s: %(why)s",
                                      entity=entity, id=item_id, why=str(exc)),
                         NOT_FOUND) from exc
    if not isinstance(record, Mapping) or not record.get("ID"):
        raise RobotError("item_id", _("There is no %(entity)s %(id)s.", entity=entity,
                                      id=item_id), NOT_FOUND)
    return item_from_record(ctx, entity, record)


# -- the task ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskSpec:
    """What a robot's task is made of (a stage robot's fields, or the properties a robot in the
    portal's own automation was given). ``responsible``: ``responsible``, ``head`` or a user
    id; ``policy``: a deadline guard mode, or empty for the robots' policy."""

    title: str
    description: str = ""
    responsible: str = rules.RESPONSIBLE
    deadline_hours: int | None = None
    deadline_days: int | None = None
    policy: str = ""
    auditors: tuple[Any, ...] = ()
    task_control: bool = False
    checklist: tuple[str, ...] = ()

    @classmethod
    def of(cls, robot: StageRobot) -> TaskSpec:
        return cls(title=robot.title, description=robot.description or "",
                   responsible=robot.responsible, deadline_hours=robot.deadline_hours,
                   deadline_days=robot.deadline_days, policy=robot.policy or "",
                   auditors=tuple(robot.auditors or ()), task_control=bool(robot.task_control),
                   checklist=tuple(robot.checklist or ()))


@dataclass(frozen=True)
class PlannedTask:
    """The task a spec gives for an item entering its stage at ``entered_at``."""

    title: str
    description: str
    responsible_id: int | None
    deadline: datetime | None  # naive UTC
    explanation: str
    auditors: list[int]
    task_control: bool
    checklist: list[str]
    policy: str  # the mode the task is bound by
    binding: str

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "description": self.description,
                "responsible_id": self.responsible_id, "deadline": iso(self.deadline),
                "explanation": self.explanation, "auditors": self.auditors,
                "task_control": self.task_control, "checklist": self.checklist,
                "policy": self.policy, "binding": self.binding}


def plan_task(ctx: Context, spec: TaskSpec, item: Item, entered_at: datetime, *,
              language: str | None = None, explain: bool = True) -> PlannedTask:
    """The task ``spec`` gives for ``item`` entered at ``entered_at`` (nothing is created)."""
    wants_head = spec.responsible == rules.HEAD or rules.HEAD in spec.auditors
    heads = heads_of(ctx.portal, item.responsible_id) if wants_head else []
    responsible_id = rules.responsible_for(spec.responsible, item_responsible=item.responsible_id,
                                           head_ids=heads)
    cal = calendar(ctx)
    unit: Any = "days" if spec.deadline_days else "hours"
    amount = spec.deadline_days or spec.deadline_hours
    deadline = cal.add_in(entered_at, amount, unit) if amount else None
    explanation = cal.explain(entered_at, amount, unit, language or reader_language(None)) \
        if amount and explain else ""
    return PlannedTask(
        title=rules.render(spec.title, item.values)[:255],
        description=rules.render(spec.description, item.values),
        responsible_id=responsible_id, deadline=deadline, explanation=explanation,
        auditors=rules.auditors_for(spec.auditors, head_ids=heads,
                                    responsible_id=responsible_id),
        task_control=spec.task_control, checklist=list(spec.checklist),
        policy=deadlines.robot_policy_mode(ctx.portal, spec.policy), binding=item.binding)


@dataclass(frozen=True)
class CreatedTask:
    task_id: int
    planned: PlannedTask


def create_task_for(ctx: Context, spec: TaskSpec, item: Item, *,
                    entered_at: datetime | None = None, commit: bool = True) -> CreatedTask:
    """Create the task ``spec`` gives for ``item`` on the portal, bound to it, its deadline
    counted in working time from ``entered_at`` (default: now) and guarded by the robots'
    policy (or ``spec.policy``). Raises RobotError (field ``responsible``) when nobody is
    found to do it, PortalError when the portal refuses. Commits the guard's record (unless
    ``commit`` is false: the caller commits it with its own)."""
    planned = plan_task(ctx, spec, item, entered_at or ctx.now, explain=False)
    if planned.responsible_id is None:
        raise RobotError("responsible", _("Nobody to give the task to: the rule '%(rule)s' "
                                          "finds nobody for %(binding)s.",
                                          rule=spec.responsible, binding=item.binding))
    fields: dict[str, Any] = {
        "TITLE": planned.title, "DESCRIPTION": planned.description,
        "RESPONSIBLE_ID": planned.responsible_id, "UF_CRM_TASK": [planned.binding],
        "AUDITORS": planned.auditors, "TASK_CONTROL": "Y" if planned.task_control else "N",
        "ALLOW_CHANGE_DEADLINE": "Y" if planned.policy == deadline_rules.FREE_MODE else "N"}
    if planned.deadline is not None:
        fields["DEADLINE"] = planned.deadline.replace(tzinfo=UTC).isoformat()
    answer = ctx.client.call("tasks.task.add", {"fields": fields})
    task = answer.get("task", answer) if isinstance(answer, Mapping) else {}
    task_id = int(task.get("id") or task.get("ID") or 0)
    deadlines.guard_robot_task(ctx.portal, task_id=task_id, deadline=planned.deadline,
                               mode=spec.policy, now=ctx.now)
    if commit:
        db.session.commit()
    if planned.checklist:
        commands = {f"c{n}": ("task.checklistitem.add", {"TASKID": task_id, "FIELDS": {
            "TITLE": line, "SORT_INDEX": n * 10}}) for n, line in enumerate(planned.checklist)}
        failed = ctx.client.run_batch(commands).errors
        if failed:
            log.warning("task %s: %s checklist lines not added", task_id, len(failed))
    return CreatedTask(task_id=task_id, planned=planned)


# -- firing --------------------------------------------------------------------------------------
def _facts(robot: StageRobot) -> rules.RobotFacts:
    return rules.RobotFacts(id=robot.id, entity=robot.entity, category_id=robot.category_id,
                            status_id=robot.status_id, enabled=bool(robot.enabled),
                            broken=False, active_since=robot.active_since)


def _robots_for(portal: Portal, entity: str, stage_id: str) -> list[StageRobot]:
    return list(db.session.scalars(select(StageRobot).where(
        StageRobot.portal_id == portal.id, StageRobot.entity == entity,
        StageRobot.status_id == stage_id, StageRobot.enabled.is_(True))
        .order_by(StageRobot.id)))


def _claim(ctx: Context, robot: StageRobot, item_id: int, key: str, stage_id: str,
           entered_at: datetime) -> RobotRun | None:
    """The run of ``robot`` for this entry, claimed (committed) before anything is made; None
    when this entry already has one."""
    if db.session.scalars(select(RobotRun.id).where(
            RobotRun.portal_id == ctx.portal.id, RobotRun.robot_id == robot.id,
            RobotRun.entity == robot.entity, RobotRun.item_id == item_id,
            RobotRun.entry_key == key)).first() is not None:
        return None
    run = RobotRun(portal_id=ctx.portal.id, robot_id=robot.id, robot_version=robot.version,
                   entity=robot.entity, item_id=item_id, entry_key=key, stage_id=stage_id,
                   entered_at=entered_at, outcome=PENDING, created_at=ctx.now)
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return run


def fire_entry(ctx: Context, *, entity: str, item_id: int, stage_id: str,
               category_id: int | None, entered_at: datetime, key: str,
               item: Item | None = None, robots: Sequence[StageRobot] | None = None
               ) -> list[RobotRun]:
    """Every robot of the stage ``item_id`` entered (``robots``, when the caller has read
    them), once for this entry: its task made, or the run skipped (the robot broken, with the
    reason) or failed (the portal's error)."""
    runs: list[RobotRun] = []
    for robot in robots if robots is not None else _robots_for(ctx.portal, entity, stage_id):
        if not rules.fires(_facts(robot), entity=entity, stage_id=stage_id,
                           category_id=category_id, entered_at=entered_at):
            continue
        run = _claim(ctx, robot, item_id, key, stage_id, entered_at)
        if run is None:
            continue
        runs.append(run)
        problem = check_robot(ctx, robot)
        if problem is not None:
            mark_broken(ctx, robot, *problem)
            run.outcome, run.error = SKIPPED, problem[1]
            log.warning("stage robot %s skipped for %s %s: %s", robot.id, entity, item_id,
                        problem[1])
            db.session.commit()
            continue
        try:
            found = item if item is not None else read_item(ctx, entity, item_id)
            made = create_task_for(ctx, TaskSpec.of(robot), found, entered_at=entered_at,
                                   commit=False)
        except (PortalError, RobotError) as exc:
            db.session.rollback()
            run = db.session.merge(run)
            run.outcome, run.error = FAILED, str(exc)
            log.warning("stage robot %s failed for %s %s: %s", robot.id, entity, item_id, exc)
            db.session.commit()
            continue
        run.outcome, run.task_id = CREATED, made.task_id
        run.responsible_id, run.deadline = made.planned.responsible_id, made.planned.deadline
        db.session.commit()
    return runs


def _task_done(ctx: Context, task_id: int) -> bool:
    answer = ctx.client.call("tasks.task.get", {"taskId": task_id, "select": ["ID", "STATUS"]})
    task = answer.get("task") if isinstance(answer, Mapping) else None
    return not isinstance(task, Mapping) or str(task.get("status") or "") in DONE_STATUSES


def on_leave(ctx: Context, *, entity: str, item_id: int, current_stage: str | None) -> int:
    """Close the open tasks of robots with ``on_leave=close`` whose item left their stage.
    Returns how many were closed."""
    closed = 0
    runs = list(db.session.scalars(select(RobotRun).where(
        RobotRun.portal_id == ctx.portal.id, RobotRun.entity == entity,
        RobotRun.item_id == item_id, RobotRun.outcome == CREATED)))
    if not runs:
        return 0
    for run in runs:
        robot = db.session.get(StageRobot, run.robot_id)
        if robot is None or robot.on_leave != CLOSE or run.task_id is None:
            continue
        try:
            done = _task_done(ctx, run.task_id)
            if not rules.must_close(robot.on_leave, task_done=done, current_stage=current_stage,
                                    robot_stage=run.stage_id):
                continue
            ctx.client.call("tasks.task.update", {"taskId": run.task_id,
                                                  "fields": {"STATUS": 5}})
        except PortalError as exc:
            log.warning("stage robot %s: task %s not closed: %s", robot.id, run.task_id, exc)
            continue
        run.outcome, run.closed_at = CLOSED, ctx.now
        closed += 1
    db.session.commit()
    return closed


def _when(record: Mapping[str, Any], *names: str) -> datetime | None:
    for name in names:
        found = deadlines.parse_portal_time(record.get(name))
        if found is not None:
            return found.replace(microsecond=0)
    return None


def on_item_change(ctx: Context, *, entity: str, before: Mapping[str, Any] | None,
                   after: Mapping[str, Any], when: datetime | None = None) -> list[RobotRun]:
    """An in-process add (``before`` None) or update: fire the robots of the stage the item
    entered, and close what its leaving closes."""
    stage_field = STAGE_FIELD[entity]
    old = str(before.get(stage_field) or "") if before else None
    new = str(after.get(stage_field) or "")
    stage = rules.entered(old, new)
    if stage is None:
        return []
    item_id = int(after.get("ID") or 0)
    entered_at = (_when(after, "MOVED_TIME", "DATE_MODIFY") if before else
                  _when(after, "DATE_CREATE")) or when or ctx.now.replace(microsecond=0)
    runs: list[RobotRun] = []
    robots = _robots_for(ctx.portal, entity, stage)
    if robots:
        item = item_from_record(ctx, entity, after)
        key = rules.event_key(stage, entered_at)
        record = _latest_entry(ctx, entity, item_id, stage)
        if record is not None:  # the entry's identity, the same the REST path sees
            key = rules.history_key(int(record["ID"]))
            entered_at = _when(record, "CREATED_TIME") or entered_at
        runs = fire_entry(ctx, entity=entity, item_id=item_id, stage_id=stage,
                          category_id=item.category_id, entered_at=entered_at, key=key,
                          item=item, robots=robots)
    if before is not None:
        on_leave(ctx, entity=entity, item_id=item_id, current_stage=stage)
    return runs


def _latest_entry(ctx: Context, entity: str, item_id: int, stage: str
                  ) -> dict[str, Any] | None:
    """The stage history's record of the item's latest entry into ``stage`` (None when the
    portal keeps no history, or has none for it)."""
    stage_key = "STATUS_ID" if entity == LEAD else "STAGE_ID"
    try:
        answer = ctx.client.call("crm.stagehistory.list", {
            "entityTypeId": ENTITY_TYPE_IDS[entity],
            "filter": {"OWNER_ID": item_id, stage_key: stage}, "order": {"ID": "DESC"},
            "start": -1})
    except PortalError as exc:
        log.info("no stage history for %s %s: %s", entity, item_id, exc)
        return None
    rows = answer.get("items", []) if isinstance(answer, Mapping) else answer or []
    return dict(rows[0]) if rows and isinstance(rows[0], Mapping) else None


def _history(ctx: Context, entity: str, filter_: Mapping[str, Any], *, after: int = 0
             ) -> list[dict[str, Any]]:
    """Stage history records of ``entity`` matching ``filter_`` past the record ``after``, in
    id order (``>ID`` pages, the portal counting nothing)."""
    out: list[dict[str, Any]] = []
    while True:
        answer = ctx.client.call("crm.stagehistory.list", {
            "entityTypeId": ENTITY_TYPE_IDS[entity], "filter": {**filter_, ">ID": after},
            "order": {"ID": "ASC"}, "start": -1})
        rows = answer.get("items", []) if isinstance(answer, Mapping) else answer or []
        out.extend(dict(r) for r in rows if isinstance(r, Mapping))
        if len(rows) < 50:
            return out
        after = max(int(r["ID"]) for r in rows)


def _fire_records(ctx: Context, entity: str, records: Sequence[Mapping[str, Any]]
                  ) -> list[RobotRun]:
    """Fire the robots for each history record (an entry), and close what the item's latest
    stage leaves behind."""
    stage_key = "STATUS_ID" if entity == LEAD else "STAGE_ID"
    wanted = {(r.entity, r.status_id) for r in db.session.scalars(select(StageRobot).where(
        StageRobot.portal_id == ctx.portal.id, StageRobot.enabled.is_(True)))}
    runs: list[RobotRun] = []
    latest: dict[int, str] = {}
    for record in records:
        stage, owner = str(record.get(stage_key) or ""), int(record.get("OWNER_ID") or 0)
        latest[owner] = stage
        entered_at = _when(record, "CREATED_TIME")
        if (entity, stage) not in wanted or entered_at is None:
            continue
        category = record.get("CATEGORY_ID")
        runs += fire_entry(ctx, entity=entity, item_id=owner, stage_id=stage,
                           category_id=int(category) if category is not None else None,
                           entered_at=entered_at, key=rules.history_key(int(record["ID"])))
    for owner, stage in latest.items():
        if db.session.scalars(select(RobotRun.id).where(
                RobotRun.portal_id == ctx.portal.id, RobotRun.entity == entity,
                RobotRun.item_id == owner, RobotRun.outcome == CREATED)).first() is not None:
            on_leave(ctx, entity=entity, item_id=owner, current_stage=stage)
    return runs


def on_item_event(ctx: Context, *, entity: str, item_id: int) -> list[RobotRun]:
    """A REST event about ``item_id`` (only its id): read its stage history since the oldest
    enabled robot and fire every entry not fired yet."""
    since = db.session.scalars(select(StageRobot.active_since).where(
        StageRobot.portal_id == ctx.portal.id, StageRobot.entity == entity,
        StageRobot.enabled.is_(True)).order_by(StageRobot.active_since).limit(1)).first()
    if since is None and not db.session.scalars(select(RobotRun.id).where(
            RobotRun.portal_id == ctx.portal.id, RobotRun.entity == entity,
            RobotRun.item_id == item_id)).first():
        return []
    filter_: dict[str, Any] = {"OWNER_ID": item_id}
    if since is not None:
        filter_[">=CREATED_TIME"] = since.replace(tzinfo=UTC).isoformat()
    return _fire_records(ctx, entity, _history(ctx, entity, filter_))


def catch_up(ctx: Context) -> dict[str, int]:
    """The periodic catch-up: check the robots (broken ones reported), then read each entity's
    stage history past the cursor and fire what the events missed. Returns entries read."""
    check_all(ctx)
    read: dict[str, int] = {}
    for entity in ENTITIES:
        cursor = db.session.scalars(select(RobotCursor).where(
            RobotCursor.portal_id == ctx.portal.id, RobotCursor.entity == entity)).first()
        since = db.session.scalars(select(StageRobot.active_since).where(
            StageRobot.portal_id == ctx.portal.id, StageRobot.entity == entity,
            StageRobot.enabled.is_(True)).order_by(StageRobot.active_since).limit(1)).first()
        if since is None:
            continue
        if cursor is None:
            cursor = RobotCursor(portal_id=ctx.portal.id, entity=entity, last_history_id=0)
            db.session.add(cursor)
            db.session.commit()
        records = _history(ctx, entity, {">=CREATED_TIME": since.replace(
            tzinfo=UTC).isoformat()}, after=cursor.last_history_id or 0)
        _fire_records(ctx, entity, records)
        cursor = db.session.merge(cursor)
        if records:
            cursor.last_history_id = max(int(r["ID"]) for r in records)
        cursor.read_at = ctx.now
        db.session.commit()
        read[entity] = len(records)
    return read


# -- preview and runs ----------------------------------------------------------------------------
def preview(ctx: Context, robot: StageRobot | Mapping[str, Any], item_id: int, *,
            language: str | None = None) -> dict[str, Any]:
    """The task ``robot`` (saved, or fields being edited) would create for ``item_id`` entering
    its stage now, deadline and its explanation included; nothing is created."""
    if isinstance(robot, StageRobot):
        spec, entity = TaskSpec.of(robot), robot.entity
    else:
        clean = validated(ctx, robot)
        spec = TaskSpec(title=clean["title"], description=clean["description"],
                        responsible=clean["responsible"],
                        deadline_hours=clean["deadline_hours"],
                        deadline_days=clean["deadline_days"], policy=clean["policy"],
                        auditors=tuple(clean["auditors"]), task_control=clean["task_control"],
                        checklist=tuple(clean["checklist"]))
        entity = clean["entity"]
    item = read_item(ctx, entity, item_id)
    language = language or (reader_language(ctx.actor) if ctx.actor else None)
    planned = plan_task(ctx, spec, item, ctx.now.replace(second=0, microsecond=0),
                        language=language)
    names = ctx.names()
    return {**planned.as_dict(), "item_id": item_id, "entity": entity,
            "entered_at": iso(ctx.now.replace(second=0, microsecond=0)),
            "responsible_name": names.get(planned.responsible_id or 0, "")}


def run_json(run: RobotRun) -> dict[str, Any]:
    return {"id": run.id, "robot_id": run.robot_id, "robot_version": run.robot_version,
            "entity": run.entity, "item_id": run.item_id, "entry": run.entry_key,
            "stage_id": run.stage_id, "entered_at": iso(run.entered_at), "task_id": run.task_id,
            "responsible_id": run.responsible_id, "deadline": iso(run.deadline),
            "outcome": run.outcome, "error": run.error, "created_at": iso(run.created_at),
            "closed_at": iso(run.closed_at)}


def list_runs(portal: Portal, *, robot: int | None = None, item: int | None = None,
              entity: str | None = None, limit: int = 2000) -> list[RobotRun]:
    stmt = select(RobotRun).where(RobotRun.portal_id == portal.id)
    if robot:
        stmt = stmt.where(RobotRun.robot_id == robot)
    if item:
        stmt = stmt.where(RobotRun.item_id == item)
    if entity:
        stmt = stmt.where(RobotRun.entity == entity)
    return list(db.session.scalars(stmt.order_by(RobotRun.id.desc()).limit(limit)))


def may_read(actor: PortalUser | None) -> bool:
    return actor is None or actor.is_admin or actor.is_head


# -- holidays -----------------------------------------------------------------------------------
def holidays_json(portal: Portal) -> dict[str, Any]:
    row = db.session.get(RobotHolidays, portal.id)
    return {"year_holidays": row.year_holidays if row else "",
            "country": row.country if row else None,
            "updated_at": iso(row.updated_at) if row else None}


def country_holidays(country: str, year: int) -> str:
    """A country's public holidays of ``year`` (the ``holidays`` package) as ``D.MM,...``."""
    import holidays as holidays_package

    try:
        found = holidays_package.country_holidays(country.upper(), years=year)
    except (NotImplementedError, KeyError, AttributeError) as exc:
        raise RobotError("country", _("Unknown country code %(code)s.", code=country)) from exc
    days = sorted({(d.month, d.day) for d in found})
    return ",".join(f"{d}.{m:02d}" for m, d in days)


def add_country_holidays(ctx: Context, country: Any) -> dict[str, Any]:
    """Add ``country``'s public holidays of this year to the robots' working time, kept as the
    portal keeps its own (recurring ``D.MM``). Commits."""
    _require_admin(ctx)
    if not isinstance(country, str) or not country.strip().isalpha() or \
            len(country.strip()) not in (2, 3):
        raise RobotError("country", _("'country' must be a country code such as RU."))
    local_year = ctx.now.replace(tzinfo=UTC).astimezone(ctx.tz).year
    added = country_holidays(country.strip(), local_year)
    row = db.session.get(RobotHolidays, ctx.portal.id)
    if row is None:
        row = RobotHolidays(portal_id=ctx.portal.id, year_holidays="")
        db.session.add(row)
    merged = parse_holidays(row.year_holidays) | parse_holidays(added)
    row.year_holidays = ",".join(f"{d}.{m:02d}" for m, d in sorted(merged))
    row.country = country.strip().upper()
    row.updated_by_id = ctx.actor.portal_user_id if ctx.actor else None
    row.updated_at = ctx.now
    db.session.commit()
    return holidays_json(ctx.portal)


def clear_holidays(ctx: Context) -> None:
    _require_admin(ctx)
    row = db.session.get(RobotHolidays, ctx.portal.id)
    if row is not None:
        db.session.delete(row)
        db.session.commit()

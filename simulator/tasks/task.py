"""Tasks: ``tasks.task.add/update/get/list/delete`` (history and comments: log.py).

Facts mirrored (reference §2, §8, §9; [D] api-reference/tasks/tasks-task-*.md, fields.md,
events-tasks/on-task-*.md):
- input keys are UPPER_CASE (``TITLE``, ``RESPONSIBLE_ID``, ``DEADLINE``...), output camelCase
  with ids, statuses and priorities as strings, flags as Y/N, empty dates as null, and an
  ``action`` map in single-task answers. ``ufCrmTask`` comes back only when ``select`` names
  ``UF_CRM_TASK`` (or ``UF_*``): the docs say the default select excludes user fields;
- errors: ``100`` "Could not find value for parameter {fields}", ``ERROR_CORE`` texts ending in
  ``<br>`` (several joined, as the portal does), ``0`` "Action on the task is not allowed";
  ``tasks.task.get`` answers ``[]`` for a task that is missing or hidden from the caller;
- ``tasks.task.list`` filters with the prefixes ``!``, ``<``, ``<=``, ``>``, ``>=`` only, orders
  by ID desc by default, pages by 50 as ``{"tasks": [...]}`` with ``total``/``next``; non-admins
  see the tasks they take part in and their subordinates' tasks; ``STATUS`` -1 (overdue) and -3
  (almost overdue: deadline within 24 hours) are understood as meta statuses;
- events ``ONTASKADD``/``ONTASKUPDATE``/``ONTASKDELETE`` carry ``{FIELDS_BEFORE, FIELDS_AFTER:
  {ID}, IS_ACCESSIBLE_BEFORE, IS_ACCESSIBLE_AFTER}`` with "undefined" where absent; in-process
  subscribers also get the task before and after (``tasks.task.get`` shape with ``ufCrmTask``).
  ``ONBEFORETASKADD``/``ONBEFORETASKUPDATE`` run before anything is written; a Veto refuses the
  change with ERROR_CORE and the veto's message.

Choices (not in the docs): an update that changes nothing writes nothing and publishes
nothing; a responsible completing a task under ``TASK_CONTROL=Y`` sends it to status 4
(awaiting control) as the portal's UI does; moving a deadline later (or removing it) clears the
deadline notices already sent, so the portal warns again (see simulator/ticks.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, false, not_, or_, select

from simulator.core.bus import Shapes
from simulator.core.listing import (
    TASK_PREFIXES,
    apply_filter,
    apply_order,
    filter_conditions,
    paginate,
    pick,
    resolve_select,
    split_key,
)
from simulator.core.registry import method
from simulator.tasks import tables
from simulator.tasks.errors import DeadlineDenied, SelectNotArray, TaskActionNotAllowed
from simulator.tasks.input import apply_input, as_int, as_list, fields_param
from simulator.tasks.log import (
    can_edit,
    can_see,
    load_task,
    may_change_deadline,
    may_change_status,
    member_ids,
    record_history,
    task_id_param,
)
from simulator.tasks.roles import responsible_may_edit
from simulator.users import get_user, is_admin, json_array_has, subordinate_ids

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params

T = tables.tasks
OPEN_STATUSES = (2, 3)

# select name -> output key, in the portal's order.
SELECT_KEYS = {
    "ID": "id", "PARENT_ID": "parentId", "TITLE": "title", "DESCRIPTION": "description",
    "MARK": "mark", "PRIORITY": "priority", "MULTITASK": "multitask", "NOT_VIEWED": "notViewed",
    "REPLICATE": "replicate", "STAGE_ID": "stageId", "CREATED_BY": "createdBy",
    "CREATED_DATE": "createdDate", "RESPONSIBLE_ID": "responsibleId", "CHANGED_BY": "changedBy",
    "CHANGED_DATE": "changedDate", "STATUS_CHANGED_BY": "statusChangedBy",
    "CLOSED_BY": "closedBy", "CLOSED_DATE": "closedDate", "ACTIVITY_DATE": "activityDate",
    "DEADLINE": "deadline", "ALLOW_CHANGE_DEADLINE": "allowChangeDeadline",
    "TASK_CONTROL": "taskControl", "DESCRIPTION_IN_BBCODE": "descriptionInBbcode",
    "STATUS": "status", "STATUS_CHANGED_DATE": "statusChangedDate", "FAVORITE": "favorite",
    "GROUP_ID": "groupId", "AUDITORS": "auditors", "ACCOMPLICES": "accomplices",
    "UF_CRM_TASK": "ufCrmTask",
}
_STANDARD = [k for k in SELECT_KEYS if k != "UF_CRM_TASK"]
TASK_COLUMNS: dict[str, Any] = {
    "ID": T.c.id, "TITLE": T.c.title, "CREATED_BY": T.c.created_by,
    "RESPONSIBLE_ID": T.c.responsible_id, "STATUS": T.c.status, "REAL_STATUS": T.c.status,
    "PRIORITY": T.c.priority, "DEADLINE": T.c.deadline, "CREATED_DATE": T.c.created_date,
    "CHANGED_DATE": T.c.changed_date, "CLOSED_DATE": T.c.closed_date, "GROUP_ID": T.c.group_id,
}
# (history field, column or fields key) compared on update, in the order rows are written.
_TRACKED = (("TITLE", "title"), ("DESCRIPTION", "description"), ("STATUS", "status"),
            ("PRIORITY", "priority"), ("RESPONSIBLE_ID", "responsible_id"),
            ("CREATED_BY", "created_by"), ("DEADLINE", "deadline"),
            ("ALLOW_CHANGE_DEADLINE", "allow_change_deadline"), ("TASK_CONTROL", "task_control"),
            ("GROUP_ID", "group_id"), ("UF_CRM_TASK", "uf_crm_task"), ("PARENT_ID", "PARENT_ID"),
            ("ACCOMPLICES", "ACCOMPLICES"), ("AUDITORS", "AUDITORS"))
_IN_FIELDS = {"PARENT_ID", "ACCOMPLICES", "AUDITORS"}
_UPDATE = T.update().where(T.c.id == bindparam("b_task_id"))
_NO_HISTORY = {"UF_CRM_TASK"}  # not among the history's field types


# -- output -----------------------------------------------------------------------------------
def _get(task: Mapping[str, Any], key: str) -> Any:
    return (task["fields"] or {}).get(key) if key in _IN_FIELDS else task[key]


def _values(ctx: Ctx, task: Mapping[str, Any]) -> dict[str, Any]:
    fields = task["fields"] or {}

    def iso(value: Any) -> str | None:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return ctx.iso(value) if value else None

    def sid(value: Any) -> str | None:
        return str(value) if value not in (None, "", 0) else None

    return {
        "id": sid(task["id"]), "parentId": sid(fields.get("PARENT_ID")), "title": task["title"],
        "description": task["description"], "mark": None, "priority": str(task["priority"]),
        "multitask": "N", "notViewed": "N", "replicate": "N", "stageId": "0",
        "createdBy": str(task["created_by"]), "createdDate": iso(task["created_date"]),
        "responsibleId": str(task["responsible_id"]), "changedBy": sid(fields.get("CHANGED_BY")),
        "changedDate": iso(task["changed_date"]),
        "statusChangedBy": sid(fields.get("STATUS_CHANGED_BY")),
        "closedBy": sid(fields.get("CLOSED_BY")), "closedDate": iso(task["closed_date"]),
        "activityDate": iso(task["changed_date"]), "deadline": iso(task["deadline"]),
        "allowChangeDeadline": "Y" if task["allow_change_deadline"] else "N",
        "taskControl": "Y" if task["task_control"] else "N", "descriptionInBbcode": "Y",
        "status": str(task["status"]),
        "statusChangedDate": iso(fields.get("STATUS_CHANGED_DATE") or task["created_date"]),
        "favorite": "N", "groupId": str(task["group_id"] or 0),
        "auditors": [str(v) for v in fields.get("AUDITORS", [])],
        "accomplices": [str(v) for v in fields.get("ACCOMPLICES", [])],
        "ufCrmTask": list(task["uf_crm_task"] or []),
    }


def task_state(ctx: Ctx, task: Mapping[str, Any]) -> dict[str, Any]:
    """The task as in-process subscribers get it in ``before``/``after``."""
    return _values(ctx, task)


def _user_card(ctx: Ctx, user_id: int, cache: dict[int, dict[str, Any]]) -> dict[str, Any]:
    if user_id not in cache:
        row = get_user(ctx, user_id)
        cache[user_id] = {
            "id": str(user_id), "name": f"{row.name} {row.last_name}".strip() if row else "",
            "link": f"/company/personal/user/{user_id}/",
            "icon": "/bitrix/images/tasks/default_avatar.png",
            "workPosition": row.work_position if row else ""}
    return cache[user_id]


def _actions(ctx: Ctx, task: Mapping[str, Any]) -> dict[str, bool]:
    uid, status = ctx.user_id, int(task["status"])
    editor = can_edit(ctx, task, uid)
    doer = editor or uid == task["responsible_id"] or uid in member_ids(task, "ACCOMPLICES")
    controller = uid == task["created_by"] or is_admin(ctx, uid)
    return {
        "accept": False, "decline": False, "complete": doer and status in (2, 3, 6),
        "approve": controller and status == 4, "disapprove": controller and status == 4,
        "start": doer and status in (2, 6), "pause": doer and status == 3,
        "delegate": editor or uid == task["responsible_id"], "remove": editor, "edit": editor,
        "defer": doer and status in (2, 3), "renew": doer and status in (4, 5), "create": True,
        "changeDeadline": may_change_deadline(ctx, task, uid), "checklistAddItems": doer,
        "addFavorite": True, "deleteFavorite": False, "rate": controller, "take": False,
        "edit.originator": is_admin(ctx, uid), "checklist.reorder": doer,
        "elapsedtime.add": doer, "dayplan.timer.toggle": False, "edit.plan": editor,
        "checklist.add": doer, "favorite.add": True, "favorite.delete": False,
    }


def task_as_api(ctx: Ctx, task: Mapping[str, Any], select_: Any = None, *,
                action: bool = False, cache: dict[int, dict[str, Any]] | None = None,
                ) -> dict[str, Any]:
    names = resolve_select(select_, standard=_STANDARD, userfields=["UF_CRM_TASK"])
    values = _values(ctx, task)
    item = pick(values, [SELECT_KEYS[n] for n in names])
    cache = {} if cache is None else cache
    if "CREATED_BY" in names:
        item["creator"] = _user_card(ctx, int(task["created_by"]), cache)
    if "RESPONSIBLE_ID" in names:
        item["responsible"] = _user_card(ctx, int(task["responsible_id"]), cache)
    if action:
        item["action"] = _actions(ctx, task)
    return item


def _event_data(task_id: int, *, before: bool, after: bool) -> dict[str, Any]:
    ref = {"ID": str(task_id)}
    return {"FIELDS_BEFORE": ref if before else "undefined",
            "FIELDS_AFTER": ref if after else "undefined",
            "IS_ACCESSIBLE_BEFORE": "undefined" if before else "N",
            "IS_ACCESSIBLE_AFTER": "undefined" if after else "N"}


def _notify_assigned(ctx: Ctx, task: Mapping[str, Any]) -> None:
    if task["responsible_id"] != ctx.user_id:
        ctx.notify(task["responsible_id"], f'You have been assigned the task "{task["title"]}"',
                   kind="task_assigned", entity_type="TASK", entity_id=task["id"],
                   from_user_id=ctx.user_id)


def _mark_status(ctx: Ctx, task: dict[str, Any], previous: int | None) -> None:
    if task["status"] == previous:
        return
    task["fields"]["STATUS_CHANGED_BY"] = ctx.user_id
    task["fields"]["STATUS_CHANGED_DATE"] = ctx.now.isoformat()
    if task["status"] == 5:
        task["closed_date"] = ctx.now
        task["fields"]["CLOSED_BY"] = ctx.user_id
    elif previous == 5:
        task["closed_date"] = None
        task["fields"].pop("CLOSED_BY", None)


# -- methods ----------------------------------------------------------------------------------
@method("tasks.task.add")
def tasks_task_add(ctx: Ctx, params: Params) -> Any:
    raw = fields_param(params)
    base: dict[str, Any] = {"id": None, "title": "", "description": "", "created_by": ctx.user_id,
            "responsible_id": None, "deadline": None, "status": 2, "priority": 1,
            "allow_change_deadline": False, "task_control": False, "group_id": 0,
            "created_date": ctx.now, "changed_date": ctx.now, "closed_date": None,
            "uf_crm_task": [], "fields": {}, "deadline_notice": None}
    task = apply_input(ctx, raw, base, adding=True)
    task["fields"]["CHANGED_BY"] = ctx.user_id
    _mark_status(ctx, task, None)
    ctx.before("ONBEFORETASKADD", entity_type="TASK", before=None, after=task_state(ctx, task),
               data=_event_data(0, before=False, after=False))
    values = {k: v for k, v in task.items() if k != "id"}
    task["id"] = int(ctx.conn.execute(T.insert().values(**values)
        .returning(T.c.id)).scalar_one())
    record_history(ctx, task["id"], "NEW")
    ctx.emit("ONTASKADD", entity_type="TASK", entity_id=task["id"], before=None,
             after=task_state(ctx, task), data=_event_data(task["id"], before=False, after=True))
    _notify_assigned(ctx, task)
    return {"task": task_as_api(ctx, task, action=True)}


@method("tasks.task.update")
def tasks_task_update(ctx: Ctx, params: Params) -> Any:
    task_id = task_id_param(params)
    raw = fields_param(params)
    old = load_task(ctx, task_id)
    if old is None or not can_see(ctx, old, ctx.user_id):
        raise TaskActionNotAllowed()
    task = apply_input(ctx, raw, old, adding=False)
    if task["status"] == 5 and old["status"] != 5 and task["task_control"] \
            and ctx.user_id != task["created_by"] and not is_admin(ctx, ctx.user_id):
        task["status"] = 4  # the creator checks the result first
    changed = [(field, key) for field, key in _TRACKED if _get(old, key) != _get(task, key)]
    if not changed:
        return {"task": task_as_api(ctx, old, action=True)}
    editor = can_edit(ctx, old, ctx.user_id) or responsible_may_edit(ctx, old, ctx.user_id)
    for field, _key in changed:
        if field == "DEADLINE":
            if not may_change_deadline(ctx, old, ctx.user_id):
                raise DeadlineDenied()
        elif field == "STATUS":
            if not may_change_status(ctx, old, ctx.user_id):
                raise TaskActionNotAllowed()
        elif not editor:
            raise TaskActionNotAllowed()
    _mark_status(ctx, task, old["status"])
    task["changed_date"] = ctx.now
    task["fields"]["CHANGED_BY"] = ctx.user_id
    if old["deadline"] != task["deadline"] and (
            task["deadline"] is None or old["deadline"] is None
            or task["deadline"] > old["deadline"]):
        task["deadline_notice"] = None  # warn again about the new deadline
    shapes = Shapes(lambda: (task_state(ctx, old), task_state(ctx, task)))
    ctx.before("ONBEFORETASKUPDATE", entity_type="TASK", entity_id=task_id, shapes=shapes,
               data=_event_data(task_id, before=True, after=True))
    # Only the columns that changed (one statement shape per set of columns, compiled once).
    changes = {k: v for k, v in task.items() if k != "id" and v != old[k]}
    if changes:
        ctx.conn.execute(_UPDATE, {"b_task_id": task_id, **changes})
    for field, key in changed:
        if field not in _NO_HISTORY:
            record_history(ctx, task_id, field, _get(old, key), _get(task, key))
    ctx.emit("ONTASKUPDATE", entity_type="TASK", entity_id=task_id, shapes=shapes,
             data=_event_data(task_id, before=True, after=True))
    if old["responsible_id"] != task["responsible_id"]:
        _notify_assigned(ctx, task)
    return {"task": task_as_api(ctx, task, action=True)}


def _select_param(params: Params) -> Any:
    requested = params.get("select")
    if requested in (None, "", []) or isinstance(requested, list | Mapping):
        return list(requested.values()) if isinstance(requested, Mapping) else requested
    raise SelectNotArray(value=requested)


@method("tasks.task.get")
def tasks_task_get(ctx: Ctx, params: Params) -> Any:
    task_id = task_id_param(params)
    select_ = _select_param(params)
    row = load_task(ctx, task_id)
    if row is None or not can_see(ctx, row, ctx.user_id):
        return []
    return {"task": task_as_api(ctx, row, select_, action=True)}


@method("tasks.task.delete")
def tasks_task_delete(ctx: Ctx, params: Params) -> Any:
    task_id = task_id_param(params)
    row = load_task(ctx, task_id)
    if row is None or not can_edit(ctx, row, ctx.user_id):
        raise TaskActionNotAllowed()
    before = task_state(ctx, row)
    ctx.conn.execute(T.delete().where(T.c.id == task_id))
    ctx.emit("ONTASKDELETE", entity_type="TASK", entity_id=task_id, before=before, after=None,
             data=_event_data(task_id, before=True, after=False))
    return {"task": True}


def _special_condition(ctx: Ctx, name: str, op: str, value: Any) -> Any:
    values = as_list(value)
    if name == "UF_CRM_TASK":
        has = json_array_has(ctx, T.c.uf_crm_task, [str(v) for v in values])
        return not_(has) if op == "ne" else has
    if name in ("ACCOMPLICE", "AUDITOR"):
        key = f"{'!' if op == 'ne' else ''}{name}S"
        return and_(*filter_conditions({key: values}, {}, ctx=ctx, json_column=T.c.fields,
                                       json_fields={f"{name}S": "list"}))
    # STATUS meta values: -1 overdue, -2 not viewed (never, here), -3 almost overdue.
    metas = []
    for status in (as_int(v) for v in values):
        if status == -1:
            metas.append(and_(T.c.deadline < ctx.now, T.c.status.in_(OPEN_STATUSES)))
        elif status == -3:
            metas.append(and_(T.c.deadline >= ctx.now,
                              T.c.deadline < ctx.now + timedelta(days=1),
                              T.c.status.in_(OPEN_STATUSES)))
    return or_(*metas) if metas else false()


@method("tasks.task.list")
def tasks_taskas_list(ctx: Ctx, params: Params) -> Any:
    select_ = _select_param(params)
    plain: dict[str, Any] = {}
    stmt = select(T)
    for key, value in params.dict("filter").items():
        op, name = split_key(str(key), TASK_PREFIXES)
        upper = name.upper()
        meta = upper in ("STATUS", "REAL_STATUS") and op == "eq" and any(
            (as_int(v) or 0) < 0 for v in as_list(value))
        if upper in ("UF_CRM_TASK", "ACCOMPLICE", "AUDITOR") or meta:
            stmt = stmt.where(_special_condition(ctx, upper, op, value))
        else:
            plain[str(key)] = value
    stmt = apply_filter(stmt, plain, TASK_COLUMNS, ctx=ctx, prefixes=TASK_PREFIXES)
    uid = ctx.user_id
    if not is_admin(ctx, uid):
        visible = [T.c.created_by == uid, T.c.responsible_id == uid,
                   *(and_(*filter_conditions({key: [uid]}, {}, ctx=ctx, json_column=T.c.fields,
                                             json_fields={key: "list"}))
                     for key in ("ACCOMPLICES", "AUDITORS"))]
        below = sorted(subordinate_ids(ctx, uid))
        if below:
            visible += [T.c.responsible_id.in_(below), T.c.created_by.in_(below)]
        stmt = stmt.where(or_(*visible))
    stmt = apply_order(stmt, params.dict("order"), TASK_COLUMNS, default=[T.c.id.desc()],
                       tiebreak=T.c.id.desc())
    cache: dict[int, dict[str, Any]] = {}
    return paginate(ctx, stmt, params.get("start"), key="tasks",
                    render=lambda row: task_as_api(ctx, row._mapping, select_, cache=cache))

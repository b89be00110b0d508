"""Reading ``tasks.task.add``/``update`` input: UPPER_CASE fields checked the way the portal
checks them, every problem reported at once as one ``ERROR_CORE`` whose text joins the
portal's messages with ``<br>`` ([D] api-reference/tasks/tasks-task-add.md,
tasks-task-update.md). Messages the docs do not list (priority, flags, participants) follow the
same pattern and name the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from simulator.core.errors import SimError
from simulator.core.listing import parse_bool
from simulator.tasks.log import load_task
from simulator.users import get_user

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params

STATUSES = (2, 3, 4, 5, 6)  # waiting, in progress, awaiting control, completed, deferred
# CRM bindings in UF_CRM_TASK: lead, deal, contact, company, quote, smart invoice, smart process.
_CRM_BINDING = re.compile(r"^(L|D|C|CO|Q|SI|T[0-9a-fA-F]+)_[1-9][0-9]*$")


def as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def as_list(value: Any) -> list[Any]:
    if value in (None, "", False):
        return []
    if isinstance(value, Mapping):
        return list(value.values())
    return list(value) if isinstance(value, list | tuple) else [value]


def active_user_id(ctx: Ctx, value: Any) -> int | None:
    row = get_user(ctx, value)
    return row.id if row is not None and row.active else None


def apply_input(ctx: Ctx, raw: dict[str, Any], base: Mapping[str, Any], *,
                 adding: bool) -> dict[str, Any]:
    """``base`` with the UPPER_CASE input applied; raises ERROR_CORE listing every problem."""
    task = dict(base)
    fields = task["fields"] = dict(base["fields"] or {})
    errors: list[str] = []
    if "TITLE" in raw or adding:
        title = str(raw.get("TITLE") or "").strip()
        if title:
            task["title"] = title[:255]
        else:
            errors.append("Task title not specified")
    if "DESCRIPTION" in raw:
        task["description"] = str(raw["DESCRIPTION"] or "")
    if "RESPONSIBLE_ID" in raw or adding:
        value = raw.get("RESPONSIBLE_ID")
        if value in (None, "", 0, "0"):
            errors.append("Assignee not specified")
        elif (user_id := active_user_id(ctx, value)) is None:
            errors.append('User specified in the "Assignee" field not found' if adding
                          else 'The user specified in the "Assignee" field is not found')
        else:
            task["responsible_id"] = user_id
    if "CREATED_BY" in raw:
        if (user_id := active_user_id(ctx, raw["CREATED_BY"])) is None:
            errors.append('User specified in the "Created by" field not found')
        else:
            task["created_by"] = user_id
    if "DEADLINE" in raw:
        try:
            task["deadline"] = ctx.parse_dt(raw["DEADLINE"], "DEADLINE")
        except SimError:
            errors.append('Invalid value in the "DEADLINE" field')
    if "STATUS" in raw:
        status = as_int(raw["STATUS"])
        status = 2 if status == 1 else status  # "new" is shown as waiting
        if status in STATUSES:
            task["status"] = status
        else:
            errors.append("Invalid status")
    if "PRIORITY" in raw:
        priority = as_int(raw["PRIORITY"])
        if priority in (0, 1, 2):
            task["priority"] = priority
        else:
            errors.append('Invalid value in the "PRIORITY" field')
    for key, column in (("ALLOW_CHANGE_DEADLINE", "allow_change_deadline"),
                        ("TASK_CONTROL", "task_control")):
        if key in raw:
            flag = parse_bool(raw[key])
            if flag is None:
                errors.append(f'Invalid value in the "{key}" field')
            else:
                task[column] = flag
    if "GROUP_ID" in raw:
        group = as_int(raw["GROUP_ID"] or 0)
        if group is None or group < 0:
            errors.append('Invalid value in the "GROUP_ID" field')
        else:
            task["group_id"] = group
    if "UF_CRM_TASK" in raw:
        bindings = [str(v).strip() for v in as_list(raw["UF_CRM_TASK"])]
        if all(_CRM_BINDING.match(b) for b in bindings):
            task["uf_crm_task"] = list(dict.fromkeys(bindings))
        else:
            errors.append('Invalid value in the "UF_CRM_TASK" field')
    for key, label in (("ACCOMPLICES", "Participants"), ("AUDITORS", "Observers")):
        if key in raw:
            ids = [active_user_id(ctx, v) for v in as_list(raw[key])]
            if None in ids:
                errors.append(f'User specified in the "{label}" field not found')
            else:
                fields[key] = list(dict.fromkeys(int(i) for i in ids if i is not None))
    if "PARENT_ID" in raw:
        parent = as_int(raw["PARENT_ID"] or 0)
        if not parent:
            fields.pop("PARENT_ID", None)
        elif parent == task["id"]:
            errors.append("Cannot bind the node to itself")
        elif parent is None or load_task(ctx, parent) is None:
            errors.append('Task specified in the "Parent Task" field not found')
        else:
            fields["PARENT_ID"] = parent
    if errors:
        raise SimError("ERROR_CORE", "".join(f"{e}<br>" for e in errors), 400)
    return task


def fields_param(params: Params) -> dict[str, Any]:
    fields = params.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        raise SimError("100", "Could not find value for parameter {fields} (internal error)", 400)
    return {str(k).upper(): v for k, v in fields.items()}

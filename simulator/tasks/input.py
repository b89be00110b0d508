"""Reading ``tasks.task.add``/``update`` input: UPPER_CASE fields checked the way the portal
checks them, every problem reported at once as one ``ERROR_CORE`` whose text joins the
portal's messages with ``<br>`` ([D] api-reference/tasks/tasks-task-add.md,
tasks-task-update.md). Messages the docs do not list (priority, flags, participants) follow the
same pattern and name the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator.core.errors import SimError
from simulator.core.listing import parse_bool
from simulator.tasks.errors import (
    ASSIGNEE_MISSING,
    ASSIGNEE_NOT_FOUND_ON_ADD,
    ASSIGNEE_NOT_FOUND_ON_UPDATE,
    INVALID_STATUS,
    INVALID_VALUE,
    PARENT_IS_SELF,
    PARENT_NOT_FOUND,
    TITLE_MISSING,
    USER_NOT_FOUND,
    FieldsMissing,
    TaskInputRejected,
)
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


@dataclass
class _Input:
    """One ``tasks.task.add``/``update`` call's input being applied to ``task``; each step
    below reads its fields and either applies them or adds the portal's message."""

    ctx: Ctx
    raw: dict[str, Any]
    task: dict[str, Any]
    adding: bool
    errors: list[str] = field(default_factory=list)

    @property
    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = self.task["fields"]
        return fields


def _title_and_description(step: _Input) -> None:
    raw, task = step.raw, step.task
    if "TITLE" in raw or step.adding:
        title = str(raw.get("TITLE") or "").strip()
        if title:
            task["title"] = title[:255]
        else:
            step.errors.append(TITLE_MISSING)
    if "DESCRIPTION" in raw:
        task["description"] = str(raw["DESCRIPTION"] or "")


def _people(step: _Input) -> None:
    raw, task = step.raw, step.task
    if "RESPONSIBLE_ID" in raw or step.adding:
        value = raw.get("RESPONSIBLE_ID")
        if value in (None, "", 0, "0"):
            step.errors.append(ASSIGNEE_MISSING)
        elif (user_id := active_user_id(step.ctx, value)) is None:
            step.errors.append(ASSIGNEE_NOT_FOUND_ON_ADD if step.adding
                               else ASSIGNEE_NOT_FOUND_ON_UPDATE)
        else:
            task["responsible_id"] = user_id
    if "CREATED_BY" in raw:
        if (user_id := active_user_id(step.ctx, raw["CREATED_BY"])) is None:
            step.errors.append(USER_NOT_FOUND.format(label="Created by"))
        else:
            task["created_by"] = user_id


def _deadline_status_priority(step: _Input) -> None:
    raw, task = step.raw, step.task
    if "DEADLINE" in raw:
        try:
            task["deadline"] = step.ctx.parse_dt(raw["DEADLINE"], "DEADLINE")
        except SimError:
            step.errors.append(INVALID_VALUE.format(field="DEADLINE"))
    if "STATUS" in raw:
        status = as_int(raw["STATUS"])
        status = 2 if status == 1 else status  # "new" is shown as waiting
        if status in STATUSES:
            task["status"] = status
        else:
            step.errors.append(INVALID_STATUS)
    if "PRIORITY" in raw:
        priority = as_int(raw["PRIORITY"])
        if priority in (0, 1, 2):
            task["priority"] = priority
        else:
            step.errors.append(INVALID_VALUE.format(field="PRIORITY"))


def _flags_and_group(step: _Input) -> None:
    raw, task = step.raw, step.task
    for key, column in (("ALLOW_CHANGE_DEADLINE", "allow_change_deadline"),
                        ("TASK_CONTROL", "task_control")):
        if key in raw:
            flag = parse_bool(raw[key])
            if flag is None:
                step.errors.append(INVALID_VALUE.format(field=key))
            else:
                task[column] = flag
    if "GROUP_ID" in raw:
        group = as_int(raw["GROUP_ID"] or 0)
        if group is None or group < 0:
            step.errors.append(INVALID_VALUE.format(field="GROUP_ID"))
        else:
            task["group_id"] = group


def _crm_bindings(step: _Input) -> None:
    if "UF_CRM_TASK" in step.raw:
        bindings = [str(v).strip() for v in as_list(step.raw["UF_CRM_TASK"])]
        if all(_CRM_BINDING.match(b) for b in bindings):
            step.task["uf_crm_task"] = list(dict.fromkeys(bindings))
        else:
            step.errors.append(INVALID_VALUE.format(field="UF_CRM_TASK"))


def _participants(step: _Input) -> None:
    for key, label in (("ACCOMPLICES", "Participants"), ("AUDITORS", "Observers")):
        if key in step.raw:
            ids = [active_user_id(step.ctx, v) for v in as_list(step.raw[key])]
            if None in ids:
                step.errors.append(USER_NOT_FOUND.format(label=label))
            else:
                step.fields[key] = list(dict.fromkeys(int(i) for i in ids if i is not None))


def _parent(step: _Input) -> None:
    if "PARENT_ID" not in step.raw:
        return
    parent = as_int(step.raw["PARENT_ID"] or 0)
    if not parent:
        step.fields.pop("PARENT_ID", None)
    elif parent == step.task["id"]:
        step.errors.append(PARENT_IS_SELF)
    elif parent is None or load_task(step.ctx, parent) is None:
        step.errors.append(PARENT_NOT_FOUND)
    else:
        step.fields["PARENT_ID"] = parent


# In the order the portal reports its messages.
_STEPS: tuple[Callable[[_Input], None], ...] = (
    _title_and_description, _people, _deadline_status_priority, _flags_and_group,
    _crm_bindings, _participants, _parent)


def apply_input(ctx: Ctx, raw: dict[str, Any], base: Mapping[str, Any], *,
                adding: bool) -> dict[str, Any]:
    """``base`` with the UPPER_CASE input applied; raises ERROR_CORE listing every problem."""
    task = dict(base)
    task["fields"] = dict(base["fields"] or {})
    step = _Input(ctx, raw, task, adding)
    for apply_step in _STEPS:
        apply_step(step)
    if step.errors:
        raise TaskInputRejected(step.errors)
    return task


def fields_param(params: Params) -> dict[str, Any]:
    fields = params.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        raise FieldsMissing()
    return {str(k).upper(): v for k, v in fields.items()}

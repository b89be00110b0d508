"""A task's checklist: ``task.checklistitem.add`` and ``task.checklistitem.getlist``.

Facts mirrored ([D] api-reference/tasks/checklist-item/task-checklist-item-add.md,
task-checklist-item-get-list.md): parameters in order ``TASKID``, ``FIELDS`` (``TITLE``
required, ``SORT_INDEX``, ``IS_COMPLETE`` Y/N); ``add`` answers the new item's id, ``getlist``
the items as ``{ID, TASK_ID, TITLE, SORT_INDEX, IS_COMPLETE, CREATED_BY}`` with ids as strings
and the flag as Y/N. Whoever may see the task may read its checklist; adding takes the right to
edit it or being its responsible.

Choices: nested items (``PARENT_ID``), ``update``/``delete``/``complete`` are not simulated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core.registry import method
from simulator.tasks import tables
from simulator.tasks.errors import TaskActionNotAllowed
from simulator.tasks.log import can_edit, can_see, load_task, task_id_param

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params

C = tables.task_checklist


def _fields(params: Params) -> dict[str, Any]:
    raw = params.first("FIELDS", "fields", "1")
    return dict(raw) if isinstance(raw, dict) else {}


@method("task.checklistitem.add")
def checklist_add(ctx: Ctx, params: Params) -> Any:
    task_id = task_id_param(params, "TASKID", "taskId", "0")
    task = load_task(ctx, task_id)
    if task is None or not (can_edit(ctx, task, ctx.user_id)
                            or task["responsible_id"] == ctx.user_id):
        raise TaskActionNotAllowed()
    fields = _fields(params)
    title = str(fields.get("TITLE") or "").strip()
    if not title:
        raise TaskActionNotAllowed()
    inserted = ctx.conn.execute(C.insert().values(
        task_id=task_id, title=title[:255], sort_index=int(fields.get("SORT_INDEX") or 0),
        is_complete=str(fields.get("IS_COMPLETE") or "N").upper() == "Y",
        created_by=ctx.user_id)).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


@method("task.checklistitem.getlist")
def checklist_getlist(ctx: Ctx, params: Params) -> Any:
    task_id = task_id_param(params, "TASKID", "taskId", "0")
    task = load_task(ctx, task_id)
    if task is None or not can_see(ctx, task, ctx.user_id):
        raise TaskActionNotAllowed()
    rows = ctx.conn.execute(select(C).where(C.c.task_id == task_id)
                            .order_by(C.c.sort_index, C.c.id)).all()
    return [{"ID": str(r.id), "TASK_ID": str(r.task_id), "TITLE": r.title,
             "SORT_INDEX": str(r.sort_index), "IS_COMPLETE": "Y" if r.is_complete else "N",
             "CREATED_BY": str(r.created_by)} for r in rows]

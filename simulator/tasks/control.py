"""Accepting work under ``TASK_CONTROL``: ``tasks.task.approve`` and ``tasks.task.disapprove``.

Facts mirrored (reference §1.2 [D] tasks-task-approve.md, tasks-task-disapprove.md): the
parameter is ``taskId``; a caller without the right to accept the work gets ``1048582``
"Action on the task is not allowed", a bad id ``0`` "wrong task id", a missing one ``100``.
The answer is ``{"task": {...}}`` as ``tasks.task.get`` gives it, with the ``action`` map.

Choices (not in the docs): only the task's creator or an administrator accepts or returns the
work, and only while the task awaits control (status 4, "supposedly completed"; the same
condition as ``action.approve``); anything else is the same ``1048582``. Approving completes
the task (status 5); disapproving sends it back to status 2 (pending), as the portal's own
``CTaskItem::disapprove`` does. Both go through ``tasks.task.update``, so the history row, the
status stamps and the ``ONBEFORETASKUPDATE``/``ONTASKUPDATE`` events are those of a status
change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.core.errors import NamedError
from simulator.core.params import Params
from simulator.core.registry import method
from simulator.tasks.log import can_see, load_task, task_id_param
from simulator.tasks.task import tasks_task_update
from simulator.users import is_admin

if TYPE_CHECKING:
    from simulator.core.context import Ctx

AWAITING_CONTROL, COMPLETED, PENDING = 4, 5, 2


class ControlNotAllowed(NamedError):
    code, text = "1048582", "Action on the task is not allowed"


def _decide(ctx: Ctx, params: Params, status: int) -> Any:
    task_id = task_id_param(params)
    task = load_task(ctx, task_id)
    if task is None or not can_see(ctx, task, ctx.user_id):
        raise ControlNotAllowed()
    controller = ctx.user_id == task["created_by"] or is_admin(ctx, ctx.user_id)
    if not controller or int(task["status"]) != AWAITING_CONTROL:
        raise ControlNotAllowed()
    return tasks_task_update(ctx, Params({"taskId": task_id, "fields": {"STATUS": status}}))


@method("tasks.task.approve")
def tasks_task_approve(ctx: Ctx, params: Params) -> Any:
    return _decide(ctx, params, COMPLETED)


@method("tasks.task.disapprove")
def tasks_task_disapprove(ctx: Ctx, params: Params) -> Any:
    return _decide(ctx, params, PENDING)

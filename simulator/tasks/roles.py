"""Task rights that a portal sets per role: whether the responsible may edit their tasks.

The portal's access rules (reference 1.2, [SRC] taskeditrule.php) let a responsible edit a
task, deadline included, when their role grants ``TASK_RESPONSE_EDIT`` and the task is open;
then ``ALLOW_CHANGE_DEADLINE=N`` does not stop them. The simulator has two roles: ``head``
(someone heading a department) and ``employee`` (anyone else; administrators may do anything
anyway). The setting ``task_roles`` holds ``{role: {"responsible_may_edit": bool}}``; both are
off by default, so the flag alone decides, as before. Set it with ``POST /_sim/tasks/roles``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core import tables as core_tables
from simulator.users import department_rows

if TYPE_CHECKING:
    from simulator.core.context import Ctx

SETTING = "task_roles"
ROLES = ("employee", "head")
RIGHTS = ("responsible_may_edit",)
CLOSED_STATUS = 5
_CACHE_KEY = "task_roles"


def defaults() -> dict[str, dict[str, bool]]:
    return {role: dict.fromkeys(RIGHTS, False) for role in ROLES}


def merged(stored: Any) -> dict[str, dict[str, bool]]:
    """The stored setting over the defaults (unknown keys dropped)."""
    found = defaults()
    if isinstance(stored, Mapping):
        for role, rights in stored.items():
            if role in found and isinstance(rights, Mapping):
                for right, value in rights.items():
                    if right in RIGHTS:
                        found[role][right] = bool(value)
    return found


def _settings(ctx: Ctx) -> dict[str, dict[str, bool]]:
    """Read in the call's own transaction, once per call."""
    known = ctx.directory.get(_CACHE_KEY)
    if known is None:
        s = core_tables.settings
        known = merged(ctx.conn.execute(select(s.c.value).where(s.c.key == SETTING))
                       .scalar_one_or_none())
        ctx.directory[_CACHE_KEY] = known
    return known


def role_of(ctx: Ctx, user_id: int) -> str:
    heads = any(d.head == user_id for d in department_rows(ctx).values())
    return "head" if heads else "employee"


def responsible_may_edit(ctx: Ctx, task: Mapping[str, Any], user_id: int) -> bool:
    """The responsible of an open task whose role may edit the tasks they are responsible
    for."""
    if user_id != task["responsible_id"] or int(task["status"]) == CLOSED_STATUS:
        return False
    return _settings(ctx)[role_of(ctx, user_id)]["responsible_may_edit"]

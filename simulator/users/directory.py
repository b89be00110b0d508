"""Lookups over users and the company structure that several method modules share (users,
departments, tasks, events, profile): who a user is, whether they are an administrator, who
stands above or below them in the structure.

"Above" follows the portal's structure: the heads (``UF_HEAD``) of a user's departments and of
every department higher up. "Below" is the reverse: everyone in the departments a user heads
and in all departments under those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, false, func, literal_column, select

from simulator.users import tables
from simulator.users.people import department_rows, get_user, is_admin

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from simulator.core.context import Ctx
    from simulator.core.params import Params

U = tables.users
D = tables.departments
__all__ = ["department_rows", "get_user", "heads_above", "is_admin", "json_array_has",
           "subordinate_ids", "top_level_fields"]


def json_array_has(ctx: Ctx, column: Any, values: list[Any]) -> ColumnElement[bool]:
    """True where the JSON array in ``column`` holds any of ``values`` (sim_user.departments,
    sim_task.uf_crm_task)."""
    if not values:
        return false()
    if ctx.conn.dialect.name == "postgresql":
        elements = func.json_array_elements_text(column).table_valued("value")
        wanted: list[Any] = [str(v) for v in values]
    else:
        elements = func.json_each(column).table_valued("value")
        wanted = values
    return exists(select(literal_column("1")).select_from(elements)
                  .where(elements.c.value.in_(wanted)))


def top_level_fields(params: Params) -> dict[str, Any]:
    """Parameters of methods that take their fields at the top level (user.add, user.update,
    department.*), upper-cased; a ``fields`` object is merged in for clients that send one."""
    raw = {str(k).upper(): v for k, v in params.items()}
    nested = params.get("fields")
    if isinstance(nested, Mapping):
        raw.update({str(k).upper(): v for k, v in nested.items()})
    return raw


def heads_above(ctx: Ctx, user_id: int) -> set[int]:
    """Heads (UF_HEAD) of the user's departments and of every department above them."""
    user = get_user(ctx, user_id)
    if user is None:
        return set()
    tree = department_rows(ctx)
    heads: set[int] = set()
    for start in user.departments or []:
        seen: set[int] = set()
        node = tree.get(int(start))
        while node is not None and node.id not in seen:
            seen.add(node.id)
            if node.head:
                heads.add(int(node.head))
            node = tree.get(node.parent) if node.parent else None
    heads.discard(user_id)
    return heads


def subordinate_ids(ctx: Ctx, head_id: int) -> set[int]:
    """Users in the departments ``head_id`` heads and in every department below them."""
    tree = department_rows(ctx)
    below = {d.id for d in tree.values() if d.head == head_id}
    grew = True
    while grew:
        children = {d.id for d in tree.values() if d.parent in below} - below
        below |= children
        grew = bool(children)
    if not below:
        return set()
    rows = ctx.conn.execute(select(U.c.id).where(
        json_array_has(ctx, U.c.departments, sorted(below)))).all()
    return {row.id for row in rows} - {head_id}

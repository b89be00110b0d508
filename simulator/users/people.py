"""Users and departments as one transaction has read them.

Handlers ask for the same people over and over (the caller, the new responsible person, the
heads above them); a ``batch`` reassigning 50 items to one person would otherwise read that
person 50 times. Rows are kept in ``ctx.directory``, which lives as long as the call's
transaction (all the commands of a ``batch``) and is emptied whenever a command changes users,
departments or CRM rights (``Ctx.directory_changed``) or is rolled back. A user who is not
found is not remembered: a later command may add them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from simulator.users import tables

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from simulator.core.context import Ctx

U = tables.users
D = tables.departments

_USER = select(U).where(U.c.id == bindparam("b_user_id"))


def get_user(ctx: Ctx, user_id: Any) -> Row[Any] | None:
    """The user's row, or None. Read once per transaction (``ctx.directory``): a batch that
    reassigns many items to the same person asks for them once."""
    if type(user_id) is int:
        number = user_id
    else:
        try:
            number = int(str(user_id).strip())
        except (TypeError, ValueError):
            return None
    known = ctx.directory.get(number)
    if known is not None:
        return known
    row = ctx.conn.execute(_USER, {"b_user_id": number}).first()
    if row is not None:  # an absent user is asked again: a command may add them
        ctx.directory[number] = row
    return row


def is_admin(ctx: Ctx, user_id: int) -> bool:
    row = get_user(ctx, user_id)
    return bool(row and row.is_admin)


def department_rows(ctx: Ctx) -> dict[int, Row[Any]]:
    rows = ctx.directory.get("departments")
    if rows is None:
        rows = {row.id: row for row in ctx.conn.execute(select(D)).all()}
        ctx.directory["departments"] = rows
    return rows

"""Per-user read access to another user's CRM items: ``crm.access.grant``,
``crm.access.revoke`` and ``crm.access.list`` (administrator only).

This is a simulator capability, not a documented REST method: on a real portal CRM access is
set by roles ([D] api-reference/crm/permissions: roles and the access-rights UI), and an
on-premise module grants a person rights through the CRM permission API. The simulator keeps
such grants in ``sim_permission`` (``user_id`` may read the items whose responsible is
``owner_id``) so an extension can give a deputy temporary read access to an absent colleague's
clients and take it back. A cloud portal answers ``ERROR_METHOD_NOT_FOUND``; clients must treat
the capability as optional.

- ``crm.access.grant{USER_ID, OWNER_ID, ACCESS="read"}`` -> ``true``; granting twice is
  harmless (one row per user, owner and access).
- ``crm.access.revoke{USER_ID, OWNER_ID, ACCESS="read"}`` -> ``true`` if a grant was removed,
  ``false`` if there was none.
- ``crm.access.list{filter: {USER_ID?, OWNER_ID?}}`` -> ``[{ID, USER_ID, OWNER_ID, ACCESS,
  GRANTED_AT}]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core.errors import ArgumentRequired, UserNotFound
from simulator.core.registry import method
from simulator.crm import tables
from simulator.crm.errors import (
    AccessUnknownFilterField,
    NotAUserId,
    OwnItems,
    UnknownAccess,
    UserDismissed,
)
from simulator.users import get_user

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params

P = tables.permissions
ACCESS_LEVELS = ("read",)


def _user(ctx: Ctx, params: Params, name: str, *, active: bool) -> int:
    user_id = params.int(name, error=ArgumentRequired(name=name))
    assert user_id is not None
    row = get_user(ctx, user_id)
    if row is None:
        raise UserNotFound(user_id=user_id)
    if active and not row.active:
        raise UserDismissed(user_id=user_id)
    return user_id


def _access(params: Params) -> str:
    access = str(params.get("access") or "read").strip().lower()
    if access not in ACCESS_LEVELS:
        raise UnknownAccess(access=access)
    return access


@method("crm.access.grant", admin_only=True)
def access_grant(ctx: Ctx, params: Params) -> Any:
    user_id = _user(ctx, params, "USER_ID", active=True)
    owner_id = _user(ctx, params, "OWNER_ID", active=False)
    if user_id == owner_id:
        raise OwnItems()
    access = _access(params)
    found = ctx.conn.execute(select(P.c.id).where(
        P.c.user_id == user_id, P.c.owner_id == owner_id, P.c.access == access)).first()
    if found is None:
        ctx.conn.execute(P.insert().values(user_id=user_id, owner_id=owner_id, access=access,
                                           granted_at=ctx.now))
        ctx.directory_changed()
    return True


@method("crm.access.revoke", admin_only=True)
def access_revoke(ctx: Ctx, params: Params) -> Any:
    user_id = _user(ctx, params, "USER_ID", active=False)
    owner_id = _user(ctx, params, "OWNER_ID", active=False)
    access = _access(params)
    removed = ctx.conn.execute(P.delete().where(
        P.c.user_id == user_id, P.c.owner_id == owner_id, P.c.access == access)).rowcount
    ctx.directory_changed()
    return bool(removed)


@method("crm.access.list", admin_only=True)
def access_list(ctx: Ctx, params: Params) -> Any:
    stmt = select(P).order_by(P.c.id)
    for key, value in params.dict("filter").items():
        name = str(key).upper()
        column = {"USER_ID": P.c.user_id, "OWNER_ID": P.c.owner_id}.get(name)
        if column is None:
            raise AccessUnknownFilterField(name=key)
        try:
            stmt = stmt.where(column == int(str(value)))
        except ValueError:
            raise NotAUserId(name=key) from None
    return [{"ID": str(row.id), "USER_ID": str(row.user_id), "OWNER_ID": str(row.owner_id),
             "ACCESS": row.access, "GRANTED_AT": ctx.iso(row.granted_at)}
            for row in ctx.conn.execute(stmt)]

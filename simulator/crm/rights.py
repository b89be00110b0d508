"""Who may read and change which CRM items: the portal's basic permission model for people who
are not administrators.

The portal sets CRM rights by roles ([D] api-reference/crm/permissions); the simulator applies
the shape most portals give their employees, keyed on each item's responsible person
(``ASSIGNED_BY_ID``):

- administrators (user 1, who owns the incoming webhook, and anyone with ``is_admin``) read and
  change everything;
- anyone else reads and changes the items they are responsible for and the items of everyone
  in the departments they head, and in every department below those
  (simulator.users.subordinate_ids);
- ``crm.access.grant`` (simulator.crm.access) adds read-only access to another
  person's items.

Lists are filtered in SQL (``assigned_by_id IN (...)``), so pages, ``total`` and ``next`` count
only what the caller may read. Reading a single item one may not read answers the portal's
"Access denied" ([D] crm-deal-get.md: HTTP 400, ``""``; crm.item: 400 ``ACCESS_DENIED``,
[D] crm-item-get.md, crm-item-update.md). Activities are readable by their responsible and by
whoever may read their owner item, changeable by their responsible and by whoever may change
the owner. Adding an item is open to everyone (it need not stay readable to its author).

What a caller may do is worked out once per transaction (all the commands of a ``batch``) and
kept in ``ctx.directory`` with the people it was worked out from; administrators cost no query
at all for user 1 and one for other administrators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, or_, select

from simulator.core.errors import SimError
from simulator.crm import tables
from simulator.crm.errors import OldAccessDenied
from simulator.users import is_admin, subordinate_ids

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from simulator.core.context import Ctx

ADMINISTRATOR = 1  # the portal's administrator, who owns the incoming webhook
_CACHE_KEY = "crm_scope"


@dataclass(frozen=True)
class CrmScope:
    """Whose items (by responsible) the caller may read and change; None means all."""

    user_id: int
    readable: frozenset[int] | None
    writable: frozenset[int] | None

    @property
    def unrestricted(self) -> bool:
        return self.readable is None

    def may_read(self, assigned_by_id: Any) -> bool:
        return self.readable is None or _as_int(assigned_by_id) in self.readable

    def may_change(self, assigned_by_id: Any) -> bool:
        return self.writable is None or _as_int(assigned_by_id) in self.writable


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def crm_scope(ctx: Ctx) -> CrmScope:
    """The caller's CRM rights, worked out once per transaction."""
    scope = ctx.directory.get(_CACHE_KEY)
    if scope is None or scope.user_id != ctx.user_id:
        scope = _work_out(ctx)
        ctx.directory[_CACHE_KEY] = scope
    assert isinstance(scope, CrmScope)
    return scope


def _work_out(ctx: Ctx) -> CrmScope:
    uid = ctx.user_id
    if uid == ADMINISTRATOR or is_admin(ctx, uid):
        return CrmScope(uid, None, None)
    own = frozenset({uid} | subordinate_ids(ctx, uid))
    granted = {row.owner_id for row in ctx.conn.execute(
        select(tables.permissions.c.owner_id).where(tables.permissions.c.user_id == uid,
                                                    tables.permissions.c.access == "read"))}
    return CrmScope(uid, own | granted, own)


# -- errors, as each API family reports them --------------------------------------------------
# -- items ------------------------------------------------------------------------------------
def readable_items(ctx: Ctx) -> ColumnElement[bool] | None:
    """The WHERE condition on ``sim_crm_item`` for the caller's lists (None: no limit)."""
    scope = crm_scope(ctx)
    if scope.readable is None:
        return None
    return tables.crm_items.c.assigned_by_id.in_(sorted(scope.readable))


def _assigned(ctx: Ctx, type_id: int, item_id: int) -> tuple[bool, Any]:
    row = ctx.conn.execute(select(tables.crm_items.c.assigned_by_id).where(
        tables.crm_items.c.id == item_id, tables.crm_items.c.entity_type_id == type_id)).first()
    return (row is not None, row.assigned_by_id if row is not None else None)


def check_item(ctx: Ctx, type_id: int, item_id: int, *, change: bool,
               denied: SimError) -> None:
    """Raise ``denied`` unless the caller may read (or, with ``change``, change) the item. A
    missing item passes: the caller reports "not found" its own way."""
    scope = crm_scope(ctx)
    if scope.unrestricted:
        return
    found, assigned = _assigned(ctx, type_id, item_id)
    if found and not (scope.may_change(assigned) if change else scope.may_read(assigned)):
        raise denied


# -- activities -------------------------------------------------------------------------------
def readable_activities(ctx: Ctx) -> ColumnElement[bool] | None:
    """The WHERE condition on ``sim_activity`` for the caller's lists (None: no limit):
    the caller is responsible for the activity, or may read its owner item."""
    scope = crm_scope(ctx)
    if scope.readable is None:
        return None
    a, items = tables.activities, tables.crm_items
    owner_readable = exists(select(items.c.id).where(
        items.c.id == a.c.owner_id, items.c.entity_type_id == a.c.owner_type_id,
        items.c.assigned_by_id.in_(sorted(scope.readable))))
    return or_(a.c.responsible_id == scope.user_id, owner_readable)


def check_activity(ctx: Ctx, activity: Any, *, change: bool) -> None:
    """Raise the old API's "Access denied" unless the caller may read (change) ``activity``
    (a ``sim_activity`` row)."""
    scope = crm_scope(ctx)
    if scope.unrestricted or activity.responsible_id == scope.user_id:
        return
    _found, assigned = _assigned(ctx, activity.owner_type_id, activity.owner_id)
    if not (scope.may_change(assigned) if change else scope.may_read(assigned)):
        raise OldAccessDenied()

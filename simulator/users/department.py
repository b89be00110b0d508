"""The company structure: ``department.get/add/update/delete/fields``.

Facts mirrored ([D] api-reference/departments/department-*.md, reference §10):
- ``department.get{sort, order, ID, NAME, SORT, PARENT, UF_HEAD, START}`` takes its filter at the
  top level and returns ``ID``, ``PARENT`` and ``UF_HEAD`` as strings and ``SORT`` as an int;
  ``PARENT`` and ``UF_HEAD`` are omitted when empty (the docs' samples omit them; whether the
  portal always does is unconfirmed, reference §14);
- changes need the right to edit the structure (the administrator); errors are ``ERROR_CORE``
  with the portal's texts: "The department name is not provided.<br>", "There can only be one
  top-level department in the company structure", "Department not found", "Access denied".
Choice: ``department.delete`` refuses a department that still has sub-departments or
employees, so nobody is left in a department that no longer exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core.listing import apply_filter, apply_order, paginate, split_key
from simulator.core.registry import method
from simulator.users import tables
from simulator.users.directory import (
    department_rows,
    get_user,
    is_admin,
    json_array_has,
    top_level_fields,
)
from simulator.users.errors import (
    DepartmentAccessDenied,
    DepartmentBelowItself,
    DepartmentNameMissing,
    DepartmentNotEmpty,
    DepartmentNotFound,
    HeadNotFound,
    ParentDepartmentNotFound,
    SecondTopDepartment,
    SortNotNumber,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from simulator.core.context import Ctx
    from simulator.core.params import Params

U = tables.users
D = tables.departments

DEPT_COLUMNS: dict[str, Any] = {"ID": D.c.id, "NAME": D.c.name, "SORT": D.c.sort,
                                "PARENT": D.c.parent, "UF_HEAD": D.c.head}


def department_as_api(row: Row[Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"ID": str(row.id), "NAME": row.name, "SORT": int(row.sort)}
    if row.parent:
        item["PARENT"] = str(row.parent)
    if row.head:
        item["UF_HEAD"] = str(row.head)
    return item


@method("department.get")
def department_get(ctx: Ctx, params: Params) -> Any:
    # ``sort`` names the ordering field and ``SORT`` filters by the sort index: the same word
    # in another case, so a field name means ordering and a number means filtering.
    sort = "ID"
    filter_: dict[str, Any] = {}
    for key, value in params.items():
        name = split_key(str(key))[1].upper()
        if str(key).lower() == "sort" and str(value).strip().upper() in DEPT_COLUMNS:
            sort = str(value).strip()
        elif name in DEPT_COLUMNS:
            filter_[str(key)] = value
    stmt = apply_filter(select(D), filter_, DEPT_COLUMNS, ctx=ctx)
    order = params.get("order")  # "ASC"/"DESC", or {"FIELD": dir} from generic list clients
    wanted = order if isinstance(order, dict) else {sort: order or "ASC"}
    stmt = apply_order(stmt, wanted, DEPT_COLUMNS, default=[D.c.id.asc()], tiebreak=D.c.id)
    return paginate(ctx, stmt, params.get("start"), render=department_as_api)


def _require_structure_admin(ctx: Ctx) -> None:
    if not is_admin(ctx, ctx.user_id):
        raise DepartmentAccessDenied()


def _department_values(ctx: Ctx, raw: dict[str, Any], *, own_id: int | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "NAME" in raw:
        name = str(raw["NAME"] or "").strip()
        if not name:
            raise DepartmentNameMissing()
        values["name"] = name
    if "SORT" in raw:
        try:
            values["sort"] = int(str(raw["SORT"]).strip() or 500)
        except ValueError:
            raise SortNotNumber() from None
    if "UF_HEAD" in raw:
        head = raw["UF_HEAD"]
        if head in (None, "", 0, "0"):
            values["head"] = None
        else:
            user = get_user(ctx, head)
            if user is None:
                raise HeadNotFound(user_id=head)
            values["head"] = user.id
    if "PARENT" in raw:
        tree = department_rows(ctx)
        try:
            parent = int(str(raw["PARENT"]).strip())
        except ValueError:
            parent = 0
        if parent not in tree:
            raise ParentDepartmentNotFound()
        node: Any = tree.get(parent)
        while node is not None:  # refuse to hang a department below itself
            if node.id == own_id:
                raise DepartmentBelowItself()
            node = tree.get(node.parent) if node.parent else None
        values["parent"] = parent
    return values


@method("department.add")
def department_add(ctx: Ctx, params: Params) -> Any:
    _require_structure_admin(ctx)
    raw = top_level_fields(params)
    raw.setdefault("NAME", "")
    has_root = ctx.conn.execute(select(D.c.id).where(D.c.parent.is_(None))).first()
    if raw.get("PARENT") in (None, "", 0, "0"):
        raw.pop("PARENT", None)
        if has_root:
            raise SecondTopDepartment()
    values = {"sort": 500, **_department_values(ctx, raw, own_id=None)}
    department_id = int(ctx.conn.execute(D.insert().values(**values)
                                         .returning(D.c.id)).scalar_one())
    ctx.directory_changed()
    return department_id


def _department_or_error(ctx: Ctx, params: Params) -> Row[Any]:
    try:
        dept_id = int(str(params.get("id")).strip())
    except ValueError:
        dept_id = 0
    row = ctx.conn.execute(select(D).where(D.c.id == dept_id)).first()
    if row is None:
        raise DepartmentNotFound()
    return row


@method("department.update")
def department_update(ctx: Ctx, params: Params) -> Any:
    _require_structure_admin(ctx)
    row = _department_or_error(ctx, params)
    raw = top_level_fields(params)
    if row.parent is None and raw.get("PARENT") in (None, "", 0, "0"):
        raw.pop("PARENT", None)  # the root stays the root
    values = _department_values(ctx, raw, own_id=row.id)
    if values:
        ctx.conn.execute(D.update().where(D.c.id == row.id).values(**values))
        ctx.directory_changed()
    return True


@method("department.delete")
def department_delete(ctx: Ctx, params: Params) -> Any:
    _require_structure_admin(ctx)
    row = _department_or_error(ctx, params)
    child = ctx.conn.execute(select(D.c.id).where(D.c.parent == row.id)).first()
    member = ctx.conn.execute(select(U.c.id).where(
        json_array_has(ctx, U.c.departments, [row.id]))).first()
    if child is not None or member is not None:
        raise DepartmentNotEmpty()
    ctx.conn.execute(D.delete().where(D.c.id == row.id))
    ctx.directory_changed()
    return True


@method("department.fields")
def department_fields(ctx: Ctx, params: Params) -> Any:
    return {"ID": "ID", "NAME": "Name", "SORT": "Sort", "PARENT": "Parent department",
            "UF_HEAD": "Head of department"}

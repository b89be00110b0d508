"""Users: ``user.get/current/admin/add/update/fields`` (departments: department.py).

Facts mirrored (reference §10; [D] api-reference/user/user-get.md, user-add.md, user-update.md,
api-reference/common/events/on-user-add.md):

- ``user.get`` returns ``ACTIVE`` as a boolean, ``UF_DEPARTMENT`` as an int list and
  ``USER_TYPE: "employee"``; dismissed users are returned unless ``FILTER[ACTIVE]`` is true.
  Filter fields may come inside ``FILTER`` or at the top level (the docs' own example sends
  ``UF_DEPARTMENT`` next to ``SORT``/``ORDER``); paging is 50 per page.
- ``user.add`` and ``user.update`` take their fields at the top level; ``ACTIVE: "N"`` in
  ``user.update`` means the employee is dismissed. Both need the right to invite users
  (the administrator). Choice: a user may update their own personal fields, but never their
  own ``ACTIVE`` or ``UF_DEPARTMENT``.
- ``ONUSERADD`` carries the user's fields directly in ``data`` (not under ``FIELDS``).
- No REST event for a user update or a dismissal exists on real portals (reference §8, §14).
  The simulator publishes ``ONUSERUPDATE`` with the same ``data`` shape as ``ONUSERADD`` and the
  user before/after (``user.get`` shape) for in-process subscribers; it may also be bound with
  ``event.bind``, which is a simulator-only convenience. Dismissal = ``ACTIVE`` true -> false.
  The event is published only when something actually changed.

The absence chart lives in the calendar service (:mod:`simulator.calendar`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, false, func, not_, or_, select
from werkzeug.security import generate_password_hash

from simulator.core.errors import NoAuth
from simulator.core.listing import apply_filter, apply_order, paginate, parse_bool, split_key
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
    ActiveNotYN,
    DepartmentIdsInvalid,
    EmailTaken,
    NoExtranetField,
    UnknownDepartment,
    UserAccessDenied,
    WrongEmail,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Row
    from sqlalchemy.sql.elements import ColumnElement

    from simulator.core.context import Ctx
    from simulator.core.params import Params

__all__ = ["user_as_api", "user_event_data"]

U = tables.users

USER_COLUMNS: dict[str, Any] = {
    "ID": U.c.id, "ACTIVE": U.c.active, "NAME": U.c.name, "LAST_NAME": U.c.last_name,
    "SECOND_NAME": U.c.second_name, "EMAIL": U.c.email, "LOGIN": U.c.email,
    "WORK_POSITION": U.c.work_position, "DATE_REGISTER": U.c.date_register,
}
# Top-level parameters of user.get that are not filter fields.
_NOT_FILTER = {"sort", "order", "start", "filter", "admin_mode", "auth", "select"}
# Fields kept in sim_user.fields (everything a user.add/update may carry besides the columns).
_EXTRA_FIELD = re.compile(r"^(PERSONAL_[A-Z_]+|WORK_[A-Z_]+|UF_[A-Z0-9_]+|TIME_ZONE|XML_ID)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

USER_FIELD_LABELS = {
    "ID": "ID", "XML_ID": "XML_ID", "ACTIVE": "Active", "NAME": "First name",
    "LAST_NAME": "Last name", "SECOND_NAME": "Second name", "EMAIL": "E-mail",
    "LAST_LOGIN": "Last login", "DATE_REGISTER": "Registration date", "IS_ONLINE": "Is online",
    "TIME_ZONE": "Time zone", "PERSONAL_GENDER": "Gender", "PERSONAL_PHOTO": "Photo",
    "PERSONAL_BIRTHDAY": "Date of birth", "PERSONAL_PHONE": "Phone",
    "PERSONAL_MOBILE": "Mobile", "PERSONAL_CITY": "City", "WORK_PHONE": "Work phone",
    "WORK_POSITION": "Position", "UF_DEPARTMENT": "Departments",
    "UF_PHONE_INNER": "Extension number", "USER_TYPE": "User type",
}


def user_as_api(ctx: Ctx, row: Row[Any]) -> dict[str, Any]:
    """A user as ``user.get`` returns it."""
    fields = dict(row.fields or {})
    return {
        "ID": str(row.id), "XML_ID": fields.pop("XML_ID", ""), "ACTIVE": bool(row.active),
        "NAME": row.name, "LAST_NAME": row.last_name, "SECOND_NAME": row.second_name,
        "EMAIL": row.email, "LAST_LOGIN": "", "DATE_REGISTER": ctx.iso(row.date_register),
        "IS_ONLINE": "N", "TIME_ZONE": fields.pop("TIME_ZONE", ""),
        "WORK_POSITION": row.work_position, **fields,
        "UF_DEPARTMENT": [int(d) for d in row.departments or []], "USER_TYPE": "employee",
    }


def user_event_data(api: dict[str, Any]) -> dict[str, Any]:
    """What ONUSERADD (and the simulator's ONUSERUPDATE) carry in ``data``: the fields directly,
    ``ACTIVE`` as Y/N."""
    data = {k: v for k, v in api.items() if k not in ("IS_ONLINE", "LAST_LOGIN", "USER_TYPE")}
    data["ACTIVE"] = "Y" if api["ACTIVE"] else "N"
    return data


# -- user.* ---------------------------------------------------------------------------------
@method("user.get")
def user_get(ctx: Ctx, params: Params) -> Any:
    merged = {k: v for k, v in params.items() if str(k).lower() not in _NOT_FILTER}
    merged.update(params.dict("filter"))
    plain: dict[str, Any] = {}
    json_fields: dict[str, str] = {}
    conditions: list[ColumnElement[bool]] = []
    for key, value in merged.items():
        op, name = split_key(str(key))
        upper = name.upper()
        if upper in ("UF_DEPARTMENT", "NAME_SEARCH", "FIND", "USER_TYPE", "IS_ONLINE"):
            condition = _special_user_filter(ctx, upper, op, value)
            if condition is not None:
                conditions.append(condition)
            continue
        plain[str(key)] = value
        if upper not in USER_COLUMNS and _EXTRA_FIELD.match(upper):
            json_fields[upper] = "string"
    stmt = apply_filter(select(U), plain, USER_COLUMNS, ctx=ctx, json_column=U.c.fields,
                        json_fields=json_fields)
    for condition in conditions:
        stmt = stmt.where(condition)
    order = params.get("order")
    if isinstance(order, dict):
        stmt = apply_order(stmt, order, USER_COLUMNS, default=[U.c.id.asc()], tiebreak=U.c.id)
    else:
        sort = str(params.get("sort") or "ID")
        stmt = apply_order(stmt, {sort: order or "ASC"}, USER_COLUMNS, default=[U.c.id.asc()],
                           tiebreak=U.c.id)
    return paginate(ctx, stmt, params.get("start"), render=lambda row: user_as_api(ctx, row))


def _special_user_filter(ctx: Ctx, name: str, op: str, value: Any) -> ColumnElement[bool] | None:
    values = value if isinstance(value, list) else [value]
    negative = op in ("ne", "not_in")
    if name == "UF_DEPARTMENT":
        ids: list[int] = []
        for v in values:
            try:
                ids.append(int(str(v).strip()))
            except ValueError:
                continue
        has = json_array_has(ctx, U.c.departments, ids)
        return not_(has) if negative else has
    if name in ("NAME_SEARCH", "FIND"):
        words = " ".join(str(v) for v in values).split()
        columns = (U.c.name, U.c.last_name, U.c.second_name, U.c.email, U.c.work_position)
        parts = [or_(*(c.ilike(f"%{w}%") for c in columns)) for w in words]
        return and_(*parts) if parts else None
    if name == "USER_TYPE":
        # Every simulated user is an employee: no extranet, e-mail or bot users.
        employee = any(str(v).lower() == "employee" for v in values)
        return None if employee != negative else false()
    if name == "IS_ONLINE":
        # Nobody is "online" in the simulated messenger.
        online = any(parse_bool(v) for v in values)
        return false() if online != negative else None
    return None


@method("user.current")
def user_current(ctx: Ctx, params: Params) -> Any:
    row = get_user(ctx, ctx.user_id)
    if row is None:
        raise NoAuth()
    return user_as_api(ctx, row)


@method("user.admin")
def user_admin(ctx: Ctx, params: Params) -> Any:
    return is_admin(ctx, ctx.user_id)


@method("user.fields")
def user_fields(ctx: Ctx, params: Params) -> Any:
    return dict(USER_FIELD_LABELS)


def _departments(ctx: Ctx, value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value] if value not in (None, "") else []
    try:
        ids = [int(str(v).strip()) for v in values]
    except ValueError:
        raise DepartmentIdsInvalid() from None
    known = department_rows(ctx)
    missing = [d for d in ids if d not in known]
    if missing:
        raise UnknownDepartment(department_id=missing[0])
    return ids


def _email(ctx: Ctx, value: Any, *, except_id: int | None = None) -> str:
    email = str(value or "").strip()
    if not _EMAIL.match(email):
        raise WrongEmail()
    clash = ctx.conn.execute(select(U.c.id).where(func.lower(U.c.email) == email.lower())).first()
    if clash is not None and clash.id != except_id:
        raise EmailTaken()
    return email


def _columns_and_fields(raw: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, column in (("NAME", "name"), ("LAST_NAME", "last_name"),
                        ("SECOND_NAME", "second_name"), ("WORK_POSITION", "work_position")):
        if key in raw:
            values[column] = "" if raw[key] is None else str(raw[key]).strip()
    extra = {k: v for k, v in raw.items()
             if _EXTRA_FIELD.match(k) and k not in ("UF_DEPARTMENT", "WORK_POSITION")}
    if extra:
        values["fields"] = {**fields, **extra}
    return values


@method("user.add")
def user_add(ctx: Ctx, params: Params) -> Any:
    if not is_admin(ctx, ctx.user_id):
        raise UserAccessDenied()
    raw = top_level_fields(params)
    email = _email(ctx, raw.get("EMAIL"))
    if parse_bool(raw.get("EXTRANET")):
        raise NoExtranetField()  # extranet isn't simulated
    department_ids = _departments(ctx, raw.get("UF_DEPARTMENT"))
    if not department_ids:
        raise NoExtranetField()
    values = {"name": "", "last_name": "", "second_name": "", "work_position": "",
              "fields": {}, **_columns_and_fields(raw, {})}
    # Simulator-only: PASSWORD lets a scenario create a user who can sign in at once (the
    # portal itself sends an invitation instead).
    password = raw.get("PASSWORD")
    user_id = int(ctx.conn.execute(U.insert().values(
        active=True, is_admin=False, email=email, departments=department_ids,
        password_hash=generate_password_hash(str(password)) if password else None,
        date_register=ctx.now, **values)
        .returning(U.c.id)).scalar_one())
    ctx.directory_changed()
    api = user_as_api(ctx, get_user(ctx, user_id))  # type: ignore[arg-type]
    ctx.emit("ONUSERADD", data=user_event_data(api), entity_type="USER", entity_id=user_id,
             after=api)
    return user_id


@method("user.update")
def user_update(ctx: Ctx, params: Params) -> Any:
    raw = top_level_fields(params)
    row = get_user(ctx, raw.get("ID"))
    admin = is_admin(ctx, ctx.user_id)
    if row is None or (not admin and row.id != ctx.user_id):
        raise UserAccessDenied()
    if not admin and ("ACTIVE" in raw or "UF_DEPARTMENT" in raw):
        raise UserAccessDenied()
    values = _columns_and_fields(raw, dict(row.fields or {}))
    if "EMAIL" in raw:
        values["email"] = _email(ctx, raw["EMAIL"], except_id=row.id)
    if "UF_DEPARTMENT" in raw:
        values["departments"] = _departments(ctx, raw["UF_DEPARTMENT"])
    if "ACTIVE" in raw:
        active = parse_bool(raw["ACTIVE"])
        if active is None:
            raise ActiveNotYN()
        values["active"] = active
    if raw.get("PASSWORD"):
        values["password_hash"] = generate_password_hash(str(raw["PASSWORD"]))
    before = user_as_api(ctx, row)
    if values:
        ctx.conn.execute(U.update().where(U.c.id == row.id).values(**values))
        ctx.directory_changed()
    after = user_as_api(ctx, get_user(ctx, row.id))  # type: ignore[arg-type]
    if after != before:
        ctx.emit("ONUSERUPDATE", data=user_event_data(after), entity_type="USER",
                 entity_id=row.id, before=before, after=after)
    return True

"""What the portal's own pages read: people by id, one page of a list, titles of CRM items,
unread counts, the activities and items around a CRM item. SQLAlchemy Core over the
simulator's tables; nothing here writes."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from simulator.crm import tables as crm_tables
from simulator.im import tables as im_tables
from simulator.users import tables as users_tables
from simulator.web import ui_format as fmt

PAGE_SIZE = 50
N, C, A = im_tables.notifications, crm_tables.crm_items, crm_tables.activities


class People:
    """Every user of the portal, by id, for names on a page."""

    def __init__(self, connection: Connection) -> None:
        users = users_tables.users
        rows = connection.execute(select(users).order_by(users.c.last_name, users.c.name)).all()
        self.rows = rows
        self.by_id = {row.id: row for row in rows}

    def name(self, user_id: int | None) -> str:
        row = self.by_id.get(user_id) if user_id is not None else None
        if row is None:
            return "" if user_id is None else f"#{user_id}"
        return f"{row.name} {row.last_name}".strip() or row.email


def page_number() -> int:
    page = request.args.get("page", "1")
    return max(1, int(page)) if page.isdigit() else 1


def paged(connection: Connection, stmt: Any, order: Any) -> tuple[list[Any], dict[str, Any]]:
    """One page of 50 rows and what the pager needs."""
    total = connection.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    page = page_number()
    rows = list(connection.execute(stmt.order_by(order).limit(PAGE_SIZE)
                                   .offset((page - 1) * PAGE_SIZE)).all())
    pager = {"page": page, "total": total, "first": (page - 1) * PAGE_SIZE + 1 if rows else 0,
             "last": (page - 1) * PAGE_SIZE + len(rows), "has_prev": page > 1,
             "has_next": page * PAGE_SIZE < total}
    return rows, pager


def item_url(type_id: int | None, item_id: int | None) -> str | None:
    slug = fmt.SLUG_BY_TYPE.get(type_id or 0)
    if slug is None or not item_id:
        return None
    return url_for("portal.crm_item", kind=slug, item_id=item_id)


def titles(connection: Connection, ids: set[int]) -> dict[int, str]:
    ids.discard(0)
    if not ids:
        return {}
    rows = connection.execute(select(C.c.id, C.c.title).where(C.c.id.in_(ids))).all()
    return {row.id: row.title for row in rows}


def unread_counts(connection: Connection) -> dict[int, int]:
    rows = connection.execute(select(N.c.user_id, func.count()).where(N.c.is_read.is_(False))
                              .group_by(N.c.user_id)).all()
    return {int(user_id): int(count) for user_id, count in rows}


def bound_activities(connection: Connection, owners: list[tuple[int, list[int]]]) -> list[Any]:
    """Activities bound to any of ``owners`` (type, ids), newest first, each once."""
    B = crm_tables.activity_bindings
    conditions = [and_(B.c.owner_type_id == t, B.c.owner_id.in_(ids)) for t, ids in owners if ids]
    ids = select(B.c.activity_id).where(or_(*conditions)).distinct()
    return list(connection.execute(select(A).where(A.c.id.in_(ids))
                                   .order_by(A.c.start_time.desc(), A.c.id.desc())
                                   .limit(200)).all())


def related_items(connection: Connection, type_id: int, item: Any) -> list[tuple[str, Any]]:
    """The items a person looks for next: a company's contacts and deals, a deal's quotes
    and invoices, a contact's deals."""
    groups: list[tuple[str, Any]] = []
    wanted: list[tuple[str, Any]] = []
    if type_id == 4:
        wanted = [(label, (C.c.entity_type_id == t) & (C.c.company_id == item.id))
                  for label, t in (("Contacts", 3), ("Deals", 2), ("Leads", 1), ("Quotes", 7),
                                   ("Invoices", 31))]
    elif type_id == 3:
        wanted = [("Deals", (C.c.entity_type_id == 2) & (C.c.contact_id == item.id))]
    elif type_id == 2:
        wanted = [("Quotes", (C.c.entity_type_id == 7)
                   & (C.c.fields["DEAL_ID"].as_integer() == item.id)),
                  ("Invoices", (C.c.entity_type_id == 31)
                   & (C.c.fields["PARENT_ID_2"].as_integer() == item.id))]
    for label, condition in wanted:
        rows = connection.execute(select(C).where(condition).order_by(C.c.id.desc())
                                  .limit(100)).all()
        if rows:
            groups.append((label, rows))
    return groups


_LINKED = {"LEAD_ID": 1, "DEAL_ID": 2, "PARENT_ID_2": 2, "COMPANY_ID": 4, "CONTACT_ID": 3}


def field_rows(item: Any, staff: People) -> list[tuple[str, Any, str | None]]:
    """(name, shown value, link) for every field kept in ``fields``."""
    out: list[tuple[str, Any, str | None]] = []
    for name, value in sorted(item.fields.items()):
        link = None
        if name.endswith(("_BY", "_BY_ID")) and str(value).isdigit():
            link = url_for("portal.inbox", user_id=int(value))
            value = staff.name(int(value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            value = ", ".join(str(v.get("VALUE", "")) for v in value)
        elif name == "UF_CRM_CATEGORY":
            value = {"1": "A", "2": "B", "3": "C"}.get(str(value), value)
        elif name in _LINKED and value:
            link = item_url(_LINKED[name], int(value))
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        out.append((name, value, link))
    return out


def crm_binding(value: str) -> tuple[int | None, int | None]:
    """``CO_3`` -> (4, 3)."""
    abbr, _, number = str(value).partition("_")
    return fmt.TYPE_BY_ABBR.get(abbr), int(number) if number.isdigit() else None

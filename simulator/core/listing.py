"""What every list method shares: the portal's filter prefixes, ``order``, ``select`` masks and
paging (50 per page, ``start``/``next``/``total``).

Facts mirrored (reference §2, [D] api-reference/crm/leads/crm-lead-list.md,
settings/how-to-call-rest-api/list-methods-pecularities.md, settings/performance/huge-data.md):

- filter keys carry an operator prefix: ``>=``, ``>``, ``<=``, ``<``, ``@`` (IN), ``!@``
  (NOT IN), ``%`` (substring), ``=%``/``%=`` (LIKE, ``%`` in the value), ``!%``, ``!=%``/``!%=``
  (NOT LIKE), ``=`` (the default), ``!=``/``!`` (not equal). A list value for any other
  operator means IN (NOT IN for the negative ones);
- unknown filter and order fields are ignored, as the old ``crm.*.list`` methods do (the
  portal builds its SQL only from fields it knows). Callers wanting an error pass
  ``unknown="error"``;
- a page is 50 rows; ``next`` only when more rows remain; ``start=-1`` skips the count
  (``total`` 0, no ``next``), which is how the portal's bulk export (``>ID`` + ``order ID ASC``)
  runs;
- select: ``*`` = every standard field that is neither a user field nor multiple, ``UF_*`` =
  every user field; multiple fields (PHONE, EMAIL, WEB, IM...) only when named; ID always.

Typical use in a handler::

    stmt = select(table).where(table.c.entity_type_id == 2)
    stmt = apply_filter(stmt, params.filter(), COLUMNS, ctx=ctx,
                        json_column=table.c.fields, json_fields={"UF_CRM_X": "int"})
    stmt = apply_order(stmt, params.dict("order"), COLUMNS, default=[table.c.id.asc()])
    return paginate(ctx, stmt, params.get("start"), render=lambda row: as_api(row))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from simulator.core.filtering import (
    ALL_PREFIXES,
    JSON_KINDS,
    TASK_PREFIXES,
    apply_filter,
    as_list,
    filter_conditions,
    lookup_name,
    parse_bool,
    split_key,
    split_prefix,
)
from simulator.core.registry import Page

if TYPE_CHECKING:
    from sqlalchemy.sql import Select
    from sqlalchemy.sql.elements import ColumnElement

    from simulator.core.context import Ctx

PAGE_SIZE = 50


def parse_start(value: Any) -> int:
    """``start`` as the portal reads it: missing/garbage -> 0, ``-1`` -> no counting."""
    try:
        number = int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        return 0
    if number < 0:
        return -1
    return number


# -- order ----------------------------------------------------------------------------------
def apply_order(stmt: Select[Any], order: Mapping[str, Any] | None,
                columns: Mapping[str, ColumnElement[Any]],
                default: Iterable[Any] = (), *, tiebreak: Any = None,
                json_column: Any = None, json_fields: Mapping[str, str] | None = None,
                ) -> Select[Any]:
    """``{"FIELD": "ASC"|"DESC"}`` (any case); unknown fields are ignored; ``default`` when
    nothing usable is given. ``tiebreak`` (e.g. the id column) keeps pages stable. Fields in
    ``json_fields`` (scalar kinds) sort by their JSON value."""
    clauses: list[Any] = []
    for name, direction in (order or {}).items():
        found = lookup_name(columns, str(name))
        expr: Any = found[1] if found is not None else None
        if expr is None and json_column is not None and json_fields:
            json_found = lookup_name(json_fields, str(name))
            if json_found is not None and json_found[1] not in ("list", "multifield"):
                element = json_column[json_found[0]]
                expr = {"int": element.as_integer, "bool": element.as_integer,
                        "float": element.as_float}.get(json_found[1], element.as_string)()
        if expr is None:
            continue
        descending = str(direction).strip().upper() == "DESC"
        clauses.append(expr.desc() if descending else expr.asc())
    if not clauses:
        clauses = list(default)
    if tiebreak is not None:
        clauses.append(tiebreak)
    return stmt.order_by(*clauses) if clauses else stmt


# -- paging ---------------------------------------------------------------------------------
def paginate(ctx: Ctx, stmt: Select[Any], start: Any, *,
             render: Callable[[Any], Any] | None = None, key: str | None = None,
             page_size: int = PAGE_SIZE) -> Page:
    """One page of ``stmt`` (already filtered and ordered) as the portal pages lists.

    ``render`` turns each row into its API shape; ``key`` wraps the page as ``{key: [...]}``
    (``items`` for crm.item.list, ``tasks`` for tasks.task.list)."""
    offset = parse_start(start)
    total = 0  # start=-1 skips the count and answers "total": 0 (huge-data.md's sample)
    if offset >= 0:
        count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
        total = int(ctx.conn.execute(count_stmt).scalar_one())
    rows = ctx.conn.execute(stmt.offset(max(offset, 0)).limit(page_size)).all()
    result = [render(row) for row in rows] if render is not None else list(rows)
    next_start = None
    if total is not None and offset + page_size < total:
        next_start = offset + page_size
    return Page(result={key: result} if key else result, total=total, next=next_start)


# -- select ---------------------------------------------------------------------------------
def resolve_select(requested: Any, *, standard: Sequence[str], userfields: Sequence[str] = (),
                   multifields: Sequence[str] = (), always: Sequence[str] = ("ID",),
                   default: Sequence[str] = ("*",)) -> list[str]:
    """The field names to return, in a stable order, for a ``select`` parameter.

    ``standard`` are the ordinary fields (multifields and user fields excluded), ``userfields``
    the ``UF_*`` names, ``multifields`` the multiple ones (PHONE, EMAIL...), which only come
    back when named. Names match case-insensitively; unknown names are ignored; an empty
    select means ``default``."""
    names = [str(n).strip() for n in as_list(requested) if str(n).strip()] \
        if requested not in (None, "") else []
    if not names:
        names = list(default)
    wanted: list[str] = list(always)
    everything = list(standard) + list(userfields) + list(multifields)
    folded = {n.lower(): n for n in everything}
    for name in names:
        upper = name.upper()
        if upper == "*":
            wanted.extend(standard)
        elif upper in ("UF_*", "UF_CRM_*"):
            wanted.extend(userfields)
        elif name.lower() in folded:
            wanted.append(folded[name.lower()])
    seen: set[str] = set()
    ordered: list[str] = []
    for name in wanted:
        if name not in seen:
            seen.add(name)
            ordered.append(name)
    return ordered


def pick(item: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """``item`` restricted to ``names`` (present ones, in ``names`` order)."""
    return {name: item[name] for name in names if name in item}


__all__ = [
    "ALL_PREFIXES", "JSON_KINDS", "PAGE_SIZE", "TASK_PREFIXES", "apply_filter", "apply_order",
    "filter_conditions", "paginate", "parse_bool", "parse_start", "pick", "resolve_select",
    "split_key", "split_prefix",
]

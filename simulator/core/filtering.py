"""The portal's list filters as SQLAlchemy conditions (used through :mod:`simulator.core.listing`).

Prefixes ([D] api-reference/crm/leads/crm-lead-list.md, reference §2): ``>=``, ``>``, ``<=``,
``<``, ``@`` (IN), ``!@`` (NOT IN), ``%`` (substring), ``=%``/``%=`` (LIKE, ``%`` in the value),
``!%``, ``!=%``/``!%=`` (NOT LIKE), ``=`` (default), ``!=``/``!`` (not equal). A list value
for any other operator means IN (NOT IN for the negative ones). LIKE ignores case, as the
portal's MySQL collation does. An empty value means "not filled in".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    and_,
    case,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from simulator.core.errors import SimError, UnknownFilterField
from simulator.core.timefmt import parse_portal_datetime

if TYPE_CHECKING:
    from sqlalchemy.sql import Select

    from simulator.core.context import Ctx

# Longest first, so "!=%" wins over "!=" and "!", ">=" over ">".
ALL_PREFIXES: tuple[str, ...] = (
    "!=%", "!%=", ">=", "<=", "!@", "=%", "%=", "!%", "!=", ">", "<", "@", "%", "!", "=",
)
# tasks.task.list knows only these ([D] api-reference/tasks/tasks-task-list.md).
TASK_PREFIXES: tuple[str, ...] = ("!", "<", "<=", ">", ">=")

_OPERATOR = {
    ">=": "ge", ">": "gt", "<=": "le", "<": "lt", "@": "in", "!@": "not_in",
    "%": "contains", "=%": "like", "%=": "like", "!%": "not_contains", "!=%": "not_like",
    "!%=": "not_like", "=": "eq", "!=": "ne", "!": "ne",
}
_NEGATIVE = {"ne", "not_in", "not_contains", "not_like"}

# Kinds of values kept in a JSON column (``json_fields``): how to read and compare them.
JSON_KINDS = ("string", "int", "float", "bool", "date", "datetime", "list", "multifield")


# -- small value parsers ----------------------------------------------------------------------
def parse_bool(value: Any) -> bool | None:
    """The portal's spellings of a flag: Y/N, 1/0, true/false (any case); None if none."""
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("y", "1", "true", "yes", "on"):
        return True
    if text in ("n", "0", "false", "no", "off", ""):
        return False
    return None


def split_prefix(key: str, prefixes: Sequence[str] = ALL_PREFIXES) -> tuple[str, str]:
    """``">=DATE_CREATE"`` -> ``(">=", "DATE_CREATE")``; ``("", key)`` without a prefix."""
    for prefix in sorted(prefixes, key=len, reverse=True):
        if key.startswith(prefix) and len(key) > len(prefix):
            return prefix, key[len(prefix):]
    return "", key


def split_key(key: str, prefixes: Sequence[str] = ALL_PREFIXES) -> tuple[str, str]:
    """``">=DATE_CREATE"`` -> ``("ge", "DATE_CREATE")``; no prefix means ``eq``."""
    prefix, name = split_prefix(key, prefixes)
    return _OPERATOR.get(prefix, "eq"), name


def lookup_name(mapping: Mapping[str, Any], name: str) -> tuple[str, Any] | None:
    """``(key, value)`` of ``mapping`` whose key equals ``name`` ignoring case."""
    if name in mapping:
        return name, mapping[name]
    folded = name.lower()
    for key, value in mapping.items():
        if key.lower() == folded:
            return key, value
    return None


# -- filter ---------------------------------------------------------------------------------
def _is_group_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, Mapping | list) for v in value)


def normalize_filter(value: Any) -> dict[str, Any] | None:
    """A filter with nested groups in the one shape :func:`filter_conditions` reads.

    PHP decodes ``filter[0][logic]=OR&filter[0][0][=A]=1`` into an array keyed 0..n, which the
    form parser (like PHP's JSON encoder) turns into a *list*; JSON clients may send groups as
    a list too. Lists of objects become objects keyed ``"0"``, ``"1"``..., at the top and under
    group keys, so ``[{"logic": "OR", "0": {...}}]`` reads as ``{"0": {"logic": "OR", ...}}``.
    Field values stay as they are (``{"@ID": [1, 2]}``). None when ``value`` is not a filter
    (a scalar, a list of scalars)."""
    if _is_group_list(value):
        value = {str(i): v for i, v in enumerate(value)}
    if not isinstance(value, Mapping):
        return None
    out: dict[str, Any] = {}
    for key, inner in value.items():
        if str(key).isdigit() and (isinstance(inner, Mapping) or _is_group_list(inner)):
            inner = normalize_filter(inner)
        out[str(key)] = inner
    return out


def apply_filter(stmt: Select[Any], filter: Mapping[str, Any] | None,
                 columns: Mapping[str, ColumnElement[Any]], *, ctx: Ctx | None = None,
                 json_column: Any = None, json_fields: Mapping[str, str] | None = None,
                 prefixes: Sequence[str] = ALL_PREFIXES, unknown: str = "ignore",
                 ) -> Select[Any]:
    """Add the portal filter ``filter`` to ``stmt``.

    ``columns`` maps API field names to column expressions (looked up case-insensitively).
    Other names go to ``json_column`` (a JSON column) when given: ``json_fields`` names the
    fields allowed there with their kind (see JSON_KINDS); without ``json_fields`` any name
    is compared as a string. ``ctx`` supplies the portal time zone for date values (UTC
    without it)."""
    for condition in filter_conditions(filter, columns, ctx=ctx, json_column=json_column,
                                       json_fields=json_fields, prefixes=prefixes,
                                       unknown=unknown):
        stmt = stmt.where(condition)
    return stmt


def filter_conditions(filter: Mapping[str, Any] | None,
                      columns: Mapping[str, ColumnElement[Any]], *, ctx: Ctx | None = None,
                      json_column: Any = None, json_fields: Mapping[str, str] | None = None,
                      prefixes: Sequence[str] = ALL_PREFIXES, unknown: str = "ignore",
                      ) -> list[ColumnElement[bool]]:
    """The WHERE conditions for ``filter`` (see :func:`apply_filter`)."""
    conditions: list[ColumnElement[bool]] = []
    for raw_key, value in (filter or {}).items():
        if str(raw_key).lower() == "logic":
            continue
        if isinstance(value, Mapping) and (str(raw_key).isdigit() or "logic" in value
                                           or "LOGIC" in value):
            # A nested group, as crm.item.list allows: {"0": {"logic": "OR", "0": {...}}}.
            group = filter_conditions(value, columns, ctx=ctx, json_column=json_column,
                                      json_fields=json_fields, prefixes=prefixes,
                                      unknown=unknown)
            logic = str(value.get("logic") or value.get("LOGIC") or "AND").upper()
            if group:
                conditions.append(or_(*group) if logic == "OR" else and_(*group))
            continue
        op, name = split_key(str(raw_key), prefixes)
        found = lookup_name(columns, name)
        if found is not None:
            conditions.append(_column_condition(found[1], op, value, ctx))
            continue
        if json_column is not None:
            if json_fields is None:
                conditions.append(_json_condition(json_column, name.upper(), "string", op,
                                                  value, ctx))
                continue
            json_found = lookup_name(json_fields, name)
            if json_found is not None:
                conditions.append(_json_condition(json_column, json_found[0], json_found[1],
                                                  op, value, ctx))
                continue
        if unknown == "error":
            raise UnknownFilterField(name=name)
    return conditions


def as_list(value: Any) -> list[Any]:
    """A filter or select value as a list (PHP arrays may arrive as objects)."""
    if isinstance(value, list | tuple | set):
        return list(value)
    if isinstance(value, Mapping):  # PHP arrays with numeric keys sent as an object
        return list(value.values())
    return [value]


def _kind_of(column: ColumnElement[Any]) -> str:
    column_type = column.type
    if isinstance(column_type, DateTime):
        return "datetime"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, Integer):
        return "int"
    if isinstance(column_type, Float | Numeric):
        return "float"
    return "string"


_BAD = object()  # a value that can't match the field's type (portal: no rows match)


def _coerce(kind: str, value: Any, ctx: Ctx | None) -> Any:
    if value is None or (value == "" and kind != "string"):
        return None
    try:
        if kind in ("date", "datetime"):
            if ctx is not None:
                return ctx.parse_dt(value, "filter")
            return parse_portal_datetime(value, UTC, field="filter")
        if kind == "bool":
            flag = parse_bool(value)
            return _BAD if flag is None else flag
        if kind == "int":
            return int(float(str(value).strip()))
        if kind == "float":
            return float(str(value).strip())
    except (ValueError, SimError):
        return _BAD
    return value if isinstance(value, str) else str(value)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _compare(expr: Any, op: str, values: list[Any]) -> ColumnElement[bool]:
    """``expr <op> values`` where values are already coerced (None means no value)."""
    positive = op not in _NEGATIVE
    real = [v for v in values if v is not None and v is not _BAD]
    has_null = any(v is None for v in values)
    if op in ("gt", "ge", "lt", "le"):
        if not real:
            return false()
        value = real[0]
        return {"gt": expr > value, "ge": expr >= value, "lt": expr < value,
                "le": expr <= value}[op]
    if op in ("contains", "not_contains", "like", "not_like"):
        texts = [str(v) for v in real]
        if op in ("contains", "not_contains"):
            likes = [expr.ilike(f"%{_like_escape(t)}%", escape="\\") for t in texts]
        else:
            likes = [expr.ilike(t) for t in texts]
        matched = or_(*likes) if likes else false()
        return matched if positive else or_(expr.is_(None), not_(matched))
    # eq / ne / in / not_in
    parts: list[ColumnElement[bool]] = []
    if real:
        parts.append(expr.in_(real) if len(real) > 1 else expr == real[0])
    if has_null:
        parts.append(expr.is_(None))
    matched = or_(*parts) if parts else false()
    if positive:
        return matched
    if has_null:
        return not_(matched)
    return or_(expr.is_(None), not_(matched))


def _column_condition(column: ColumnElement[Any], op: str, value: Any, ctx: Ctx | None
                      ) -> ColumnElement[bool]:
    kind = _kind_of(column)
    values = [_coerce(kind, v, ctx) for v in as_list(value)]
    if kind == "string" and op in ("eq", "ne", "in", "not_in") and None in values:
        # An empty string filter means "not filled in": NULL or "".
        values = [v for v in values if v is not None] + ["", None]
    return _compare(column, op, values)


def _json_condition(json_column: Any, name: str, kind: str, op: str, value: Any,
                    ctx: Ctx | None) -> ColumnElement[bool]:
    if kind in ("list", "multifield"):
        return _json_list_condition(json_column, name, kind, op, value, ctx)
    element = json_column[name]
    expr: Any
    if kind == "int" or kind == "bool":
        expr = element.as_integer()
    elif kind == "float":
        expr = element.as_float()
    elif kind == "date":
        # Dates may be stored as "2026-03-01" or "2026-03-01T00:00:00+03:00": compare the day.
        expr = func.substr(element.as_string(), 1, 10)
    else:
        expr = element.as_string()
    coerce_kind = {"date": "datetime"}.get(kind, kind)
    values = [_coerce(coerce_kind, v, ctx) for v in as_list(value)]
    if kind == "bool":
        values = [int(v) if isinstance(v, bool) else v for v in values]
    if kind in ("date", "datetime"):
        # Stored as ISO strings in the portal's zone, which compare in time order.
        values = [_iso(v, ctx) if isinstance(v, datetime) else v for v in values]
        if kind == "date":
            values = [v[:10] if isinstance(v, str) else v for v in values]
    if kind == "string" and op in ("eq", "ne", "in", "not_in") and None in values:
        values = [v for v in values if v is not None] + ["", None]
    return _compare(expr, op, values)


def _iso(value: datetime, ctx: Ctx | None) -> str:
    if ctx is not None:
        return ctx.iso(value)
    return value.replace(tzinfo=UTC).isoformat(timespec="seconds")


def _json_list_condition(json_column: Any, name: str, kind: str, op: str, value: Any,
                         ctx: Ctx | None) -> ColumnElement[bool]:
    """Match a JSON array field: a scalar list (CONTACT_IDS, multiple user fields) or a
    multifield (PHONE/EMAIL/...: objects with VALUE). True when any element matches."""
    dialect = ctx.conn.dialect.name if ctx is not None and ctx.conn is not None else "sqlite"
    item: Any
    if dialect == "postgresql":
        array = json_column[name]
        safe = case((func.json_typeof(array) == "array", array),
                    else_=literal_column("'[]'::json"))
        fn = func.json_array_elements if kind == "multifield" else func.json_array_elements_text
        elements = fn(safe).table_valued("value")
        item = (elements.c.value.op("->>")(literal_column("'VALUE'")) if kind == "multifield"
                else elements.c.value)
    else:
        elements = func.json_each(json_column, f"$.{name}").table_valued("value")
        item = (func.json_extract(elements.c.value, "$.VALUE") if kind == "multifield"
                else elements.c.value)
    positive_op = {"ne": "eq", "not_in": "in", "not_contains": "contains",
                   "not_like": "like"}.get(op, op)
    raw = [v for v in as_list(value) if v not in (None, "")]
    if not raw:
        # "Has no value" / "has a value".
        any_element = exists(select(literal_column("1")).select_from(elements))
        return not_(any_element) if op not in _NEGATIVE else any_element
    if kind == "list" and dialect != "postgresql":
        coerced: list[Any] = []
        for v in raw:
            number = _coerce("int", v, ctx)
            coerced.append(number if number is not _BAD else str(v))
        raw = coerced
    else:
        raw = [str(v) for v in raw]
    matched = exists(select(literal_column("1")).select_from(elements)
                     .where(_compare(item, positive_op, raw)))
    return matched if positive_op == op else not_(matched)

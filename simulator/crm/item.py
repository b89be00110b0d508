"""The universal ``crm.item.{list,get,add,update,delete,fields}`` methods.

Mirrors [D] api-reference/crm/universal/crm-item-*.md (reference §6.2): ``entityTypeId``
picks the type (1, 2, 3, 4, 7, 31 here; 5, the old invoice, answers
``ENTITY_TYPE_NOT_SUPPORTED``; other ids ``NOT_FOUND`` "SPA not found"); fields are camelCase
with real ints; user fields are camelCase (``ufCrmCategory``) unless ``useOriginalUfNames=Y``;
list answers ``{"items": [...]}`` with top-level ``total``/``next``; add/get/update answer
``{"item": {...}}``; delete answers ``[]``; a missing item is HTTP 400 ``NOT_FOUND``
"Item not found", one the caller may not read 400 ``ACCESS_DENIED`` (simulator.crm.rights).
Filters take the old prefixes on camelCase names and nested groups with ``"logic": "OR"``
(as JSON objects or lists, or PHP-style). The rows are the ones the old methods read and
write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from simulator.core.errors import SimError
from simulator.core.listing import apply_order, paginate, parse_bool, split_prefix
from simulator.core.registry import Page, method
from simulator.crm import tables
from simulator.crm.entities import filter_columns, item_query
from simulator.crm.entity_types import ENTITY_TYPES, EntityType
from simulator.crm.errors import (
    EntityTypeNotSupported,
    ItemAccessDenied,
    ItemReadDenied,
    ParameterNotFound,
    UnknownItem,
    UnknownSmartProcess,
)
from simulator.crm.fields import (
    FieldError,
    Schema,
    field_descriptions,
    load_record,
    row_to_record,
    to_item_api,
)
from simulator.crm.ops import ItemNotFound, create_item, delete_item, update_item
from simulator.crm.rights import check_item, crm_scope

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params

T = tables.crm_items


def entity_from_params(params: Params) -> EntityType:
    raw = params.first("entityTypeId")
    if raw in (None, ""):
        raise ParameterNotFound(name="entityTypeId")
    try:
        type_id = int(str(raw).strip())
    except ValueError:
        raise ParameterNotFound(name="entityTypeId") from None
    if type_id == 5:
        raise EntityTypeNotSupported(name="INVOICE")
    if type_id not in ENTITY_TYPES:
        raise UnknownSmartProcess()
    return ENTITY_TYPES[type_id]


def _item_id(params: Params) -> int:
    item_id = params.int("id", error=ParameterNotFound(name="id"))
    assert item_id is not None
    return item_id


def _original(params: Params) -> bool:
    return bool(parse_bool(params.get("useOriginalUfNames")))


def _translate_filter(schema: Schema, filter: Mapping[str, Any]) -> dict[str, Any]:
    """camelCase filter keys -> old-API names (unknown names are dropped)."""
    out: dict[str, Any] = {}
    for key, value in filter.items():
        text = str(key)
        if text.lower() == "logic":
            out["logic"] = value
            continue
        if isinstance(value, Mapping) and (text.isdigit() or "logic" in value):
            out[text] = _translate_filter(schema, value)
            continue
        prefix, name = split_prefix(text)
        d = schema.by_item_name(name)
        if d is not None:
            out[prefix + d.name] = value
    return out


def _translate_fields(schema: Schema, fields: Mapping[str, Any]) -> dict[str, Any]:
    """camelCase input -> old-API names; ``fm`` entries become PHONE/EMAIL/... lists."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if str(key).lower() == "fm":
            entries = list(value.values()) if isinstance(value, Mapping) else value
            for entry in entries or []:
                if not isinstance(entry, Mapping):
                    raise FieldError("fm")
                kind = str(entry.get("typeId") or "").upper()
                if schema.get(kind) is None or not schema.defs[kind].is_multifield:
                    raise FieldError("fm")
                out.setdefault(kind, []).append({
                    "ID": entry.get("id"), "VALUE": entry.get("value"),
                    "VALUE_TYPE": entry.get("valueType"),
                    "DELETE": entry.get("delete") or entry.get("DELETE")})
            continue
        d = schema.by_item_name(str(key))
        if d is not None:
            out[d.name] = value
    return out


def _select(schema: Schema, requested: Any) -> tuple[list[str], bool]:
    """Old-API names for a crm.item select, and whether ``fm`` comes back ('*' only)."""
    raw = requested if isinstance(requested, list | tuple) else \
        list(requested.values()) if isinstance(requested, Mapping) else \
        [] if requested in (None, "") else [requested]
    names = [str(n).strip() for n in raw if str(n).strip()] or ["*"]
    wanted: list[str] = ["ID"]
    with_fm = False
    for name in names:
        if name == "*":
            wanted.extend(n for n in schema.defs if not schema.defs[n].is_multifield)
            with_fm = True
        elif name.lower() in ("uf_*", "ufcrm*", "uf_crm_*"):
            wanted.extend(schema.uf_names)
        elif name.lower() == "fm":
            with_fm = True
        else:
            d = schema.by_item_name(name)
            if d is not None:
                wanted.append(d.name)
    if with_fm:
        wanted.extend(n for n in schema.defs if schema.defs[n].is_multifield)
    return list(dict.fromkeys(wanted)), with_fm


def _translate_order(schema: Schema, order: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, direction in order.items():
        d = schema.by_item_name(str(key))
        if d is not None:
            out[d.name] = direction
    return out


@method("crm.item.list")
def item_list(ctx: Ctx, params: Params) -> Page:
    et = entity_from_params(params)
    schema = Schema.load(ctx.conn, et)
    stmt = item_query(ctx, schema, _translate_filter(schema, params.filter()))
    stmt = apply_order(stmt, _translate_order(schema, params.dict("order")),
                       filter_columns(et), [T.c.id.asc()], tiebreak=T.c.id.asc(),
                       json_column=T.c.fields, json_fields=schema.json_filter_kinds())
    names, with_fm = _select(schema, params.get("select"))
    original = _original(params)
    return paginate(ctx, stmt, params.get("start"), key="items", render=lambda row: to_item_api(
        ctx, schema, row_to_record(et, row), names, original_uf_names=original,
        with_fm=with_fm))


def _render(ctx: Ctx, schema: Schema, item_id: int, params: Params, *,
            check_read: bool = False) -> dict[str, Any]:
    record = load_record(ctx.conn, schema.et, item_id)
    if record is None:
        raise UnknownItem()
    # add and update answer the item as written, even one just handed to someone else
    if check_read and not crm_scope(ctx).may_read(record.get("ASSIGNED_BY_ID")):
        raise ItemReadDenied()
    return {"item": to_item_api(ctx, schema, record, original_uf_names=_original(params))}


@method("crm.item.get")
def item_get(ctx: Ctx, params: Params) -> dict[str, Any]:
    et = entity_from_params(params)
    return _render(ctx, Schema.load(ctx.conn, et), _item_id(params), params, check_read=True)


@method("crm.item.add")
def item_add(ctx: Ctx, params: Params) -> dict[str, Any]:
    et = entity_from_params(params)
    schema = Schema.load(ctx.conn, et)
    try:
        fields = _translate_fields(schema, params.dict("fields"))
        item_id = create_item(ctx, et, fields)
    except FieldError as error:
        raise _field_error(schema, error) from None
    return _render(ctx, schema, item_id, params)


@method("crm.item.update")
def item_update(ctx: Ctx, params: Params) -> dict[str, Any]:
    et = entity_from_params(params)
    item_id = _item_id(params)
    check_item(ctx, et.id, item_id, change=True, denied=ItemAccessDenied())
    schema = Schema.load(ctx.conn, et)
    try:
        update_item(ctx, et, item_id, _translate_fields(schema, params.dict("fields")))
    except ItemNotFound:
        raise UnknownItem() from None
    except FieldError as error:
        raise _field_error(schema, error) from None
    return _render(ctx, schema, item_id, params)


@method("crm.item.delete")
def item_delete(ctx: Ctx, params: Params) -> list[Any]:
    et = entity_from_params(params)
    item_id = _item_id(params)
    check_item(ctx, et.id, item_id, change=True, denied=ItemAccessDenied())
    try:
        delete_item(ctx, et, item_id)
    except ItemNotFound:
        raise UnknownItem() from None
    return []


@method("crm.item.fields")
def item_fields(ctx: Ctx, params: Params) -> dict[str, Any]:
    et = entity_from_params(params)
    return {"fields": field_descriptions(Schema.load(ctx.conn, et), item_api=True)}


def _field_error(schema: Schema, error: FieldError) -> SimError:
    d = schema.get(error.field)
    return error.item_error(d.item_name if d is not None else error.field)

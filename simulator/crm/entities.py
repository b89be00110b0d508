"""The old per-entity CRM methods: ``crm.{lead,deal,contact,company,quote}.{list,get,add,
update,delete,fields}`` and ``crm.{type}.userfield.{add,list,get}``.

Conventions mirrored ([D] api-reference/crm/deals/crm-deal-{add,get,update,list}.md,
reference §6.1): UPPER_CASE fields, numbers as strings, ``add`` answers the new id,
``update``/``delete`` answer ``true``, errors are HTTP 400 with an empty code and the text
only (``ID is not defined or invalid``, ``Not found``, ``Access denied``: who may read and
change what is in :mod:`simulator.crm.rights`). The universal ``crm.item.*`` methods
are in :mod:`simulator.crm.item`; both read and write the same rows through
:mod:`simulator.crm.ops`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core.errors import NotDefinedOrInvalid, NotFound
from simulator.core.listing import apply_filter, apply_order, paginate, resolve_select
from simulator.core.registry import Handler, Page, method
from simulator.crm import tables
from simulator.crm.entity_types import BY_CODE, EntityType
from simulator.crm.errors import OldAccessDenied
from simulator.crm.fields import (
    FieldError,
    Schema,
    field_descriptions,
    load_record,
    row_to_record,
    to_old_api,
)
from simulator.crm.ops import ItemNotFound, create_item, delete_item, update_item
from simulator.crm.rights import check_item, crm_scope, readable_items
from simulator.crm.userfields import create_userfield, get_userfield, load_userfields

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from simulator.core.context import Ctx
    from simulator.core.params import Params

T = tables.crm_items


def filter_columns(et: EntityType) -> dict[str, ColumnElement[Any]]:
    """Old-API names of the promoted columns, for filter and order."""
    return {d.name: T.c[d.column] for d in et.fields if d.column}


def item_query(ctx: Ctx, schema: Schema, filter: dict[str, Any]) -> Any:
    """``SELECT`` over ``schema``'s items the caller may read, with an old-API filter applied
    (no order)."""
    et = schema.et
    stmt = select(T).where(T.c.entity_type_id == et.id)
    readable = readable_items(ctx)
    if readable is not None:
        stmt = stmt.where(readable)
    return apply_filter(stmt, filter, filter_columns(et), ctx=ctx, json_column=T.c.fields,
                        json_fields=schema.json_filter_kinds())


def _id(params: Params) -> int:
    item_id = params.int("id", error=NotDefinedOrInvalid(name="ID"))
    assert item_id is not None
    return item_id


def _list(ctx: Ctx, params: Params, et: EntityType) -> Page:
    schema = Schema.load(ctx.conn, et)
    stmt = item_query(ctx, schema, params.filter())
    stmt = apply_order(stmt, params.dict("order"), filter_columns(et), [T.c.id.asc()],
                       tiebreak=T.c.id.asc(), json_column=T.c.fields,
                       json_fields=schema.json_filter_kinds())
    names = resolve_select(params.get("select"), standard=schema.standard_names,
                           userfields=schema.uf_names, multifields=schema.multiple_names)
    return paginate(ctx, stmt, params.get("start"),
                    render=lambda row: to_old_api(ctx, schema, row_to_record(et, row), names))


def _get(ctx: Ctx, params: Params, et: EntityType) -> dict[str, Any]:
    item_id = _id(params)
    record = load_record(ctx.conn, et, item_id)
    if record is None:
        raise NotFound()
    if not crm_scope(ctx).may_read(record.get("ASSIGNED_BY_ID")):
        raise OldAccessDenied()
    return to_old_api(ctx, Schema.load(ctx.conn, et), record)


def _register_sonet_event(params: Params) -> bool:
    """``params[REGISTER_SONET_EVENT]``: N (also false, 0) leaves the change out of the live
    feed and its notices; anything else, or nothing, registers it."""
    options = params.get("params")
    value = None
    if isinstance(options, Mapping):
        value = {str(k).upper(): v for k, v in options.items()}.get("REGISTER_SONET_EVENT")
    return str(value if value is not None else "Y").strip().upper() not in ("N", "FALSE", "0")


def _add(ctx: Ctx, params: Params, et: EntityType) -> int:
    try:
        return create_item(ctx, et, params.dict("fields"),
                           notify=_register_sonet_event(params))
    except FieldError as error:
        raise error.old_error() from None


def _update(ctx: Ctx, params: Params, et: EntityType) -> bool:
    item_id = _id(params)
    check_item(ctx, et.id, item_id, change=True, denied=OldAccessDenied())
    try:
        update_item(ctx, et, item_id, params.dict("fields"),
                    notify=_register_sonet_event(params))
    except ItemNotFound:
        raise NotFound() from None
    except FieldError as error:
        raise error.old_error() from None
    return True


def _delete(ctx: Ctx, params: Params, et: EntityType) -> bool:
    item_id = _id(params)
    check_item(ctx, et.id, item_id, change=True, denied=OldAccessDenied())
    try:
        delete_item(ctx, et, item_id)
    except ItemNotFound:
        raise NotFound() from None
    return True


def _fields(ctx: Ctx, params: Params, et: EntityType) -> dict[str, Any]:
    return field_descriptions(Schema.load(ctx.conn, et))


# -- user fields ---------------------------------------------------------------------------
def _uf_add(ctx: Ctx, params: Params, et: EntityType) -> int:
    return create_userfield(ctx.conn, et.uf_entity, params.dict("fields")).id


def _uf_get(ctx: Ctx, params: Params, et: EntityType) -> dict[str, Any]:
    field_id = _id(params)
    found = get_userfield(ctx.conn, et.uf_entity, field_id=field_id)
    if found is None:
        raise NotFound()
    return found.as_api()


def _uf_list(ctx: Ctx, params: Params, et: EntityType) -> list[dict[str, Any]]:
    wanted = {str(k).upper().lstrip("=").lstrip("@"): v
              for k, v in params.dict("filter").items()}
    out: list[dict[str, Any]] = []
    for uf in load_userfields(ctx.conn, et.uf_entity):
        shape = uf.as_api()
        if all(str(shape.get(k, "")) in ([str(x) for x in v] if isinstance(v, list) else
                                         [str(v)]) for k, v in wanted.items() if k in shape):
            out.append(shape)
    order = params.dict("order")
    for key, direction in reversed(list(order.items())):
        out.sort(key=_sort_key(str(key).upper()), reverse=str(direction).upper() == "DESC")
    return out


def _sort_key(name: str) -> Callable[[dict[str, Any]], Any]:
    if name in ("ID", "SORT"):
        return lambda shape: int(shape.get(name) or 0)
    return lambda shape: str(shape.get(name) or "")


def _register(et: EntityType) -> None:
    actions: dict[str, Any] = {
        "list": _list, "get": _get, "add": _add, "update": _update, "delete": _delete,
        "fields": _fields, "userfield.add": _uf_add, "userfield.get": _uf_get,
        "userfield.list": _uf_list,
    }
    for action, fn in actions.items():
        method(f"crm.{et.code}.{action}")(_bind(fn, et))


def _bind(fn: Any, et: EntityType) -> Handler:
    def handler(ctx: Ctx, params: Params) -> Any:
        return fn(ctx, params, et)

    handler.__name__ = f"{et.code}_{fn.__name__.lstrip('_')}"
    return handler


for _et in BY_CODE.values():
    _register(_et)

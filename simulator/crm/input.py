"""Caller input for CRM items: validation, conversion to the stored form, defaults.

Choices where the portal's documentation is silent (the simulator's rules):
- required: a company needs TITLE; a contact needs NAME or LAST_NAME; leads, deals, quotes
  and smart invoices get "Lead #5"-style titles when none is given, as [D]
  crm-item-add.md documents; user fields created with MANDATORY=Y are required on add;
- unknown field names are ignored (the portal drops them); read-only fields are ignored;
  CATEGORY_ID is ignored on update (the portal moves items between pipelines with
  ``crm.deal.category.move`` only);
- a deal's CATEGORY_ID must be one of the portal's pipelines (simulator.crm.categories);
- ASSIGNED_BY_ID (default: the calling user) must be an existing user, dismissed or not;
  COMPANY_ID/CONTACT_ID/CONTACT_IDS must name existing companies/contacts; a stage must be one
  of the type's default stages (for deals, of the deal's pipeline);
- empty values unset a field; dates are stored as ISO strings in the portal's zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core import tables as core_tables
from simulator.core.errors import SimError
from simulator.core.listing import parse_bool
from simulator.crm import tables
from simulator.crm.categories import deal_category_exists
from simulator.crm.entity_types import (
    CHAR_TYPES,
    DATE_TYPES,
    DATETIME_TYPES,
    FLOAT_TYPES,
    INT_TYPES,
    SMART_INVOICE_CATEGORY,
    EntityType,
    FieldDef,
    stages_for,
)
from simulator.crm.fields import DERIVED, MULTIFIELD_TYPES, FieldError, Schema
from simulator.crm.userfields import UserField
from simulator.users import get_user

if TYPE_CHECKING:
    from simulator.core.context import Ctx

def apply_input(ctx: Ctx, schema: Schema, record: dict[str, Any], fields: Mapping[str, Any], *,
                creating: bool, check_refs: bool = True) -> dict[str, Any]:
    """Merge caller ``fields`` (UPPER names) into ``record``, validated; returns the new record.

    Raises :class:`FieldError`. ``creating`` applies defaults and required-field rules."""
    new = dict(record)
    for key, value in fields.items():
        d = schema.get(str(key))
        if d is None or d.read_only or d.name in DERIVED:
            continue
        if d.immutable and not creating:
            continue
        new[d.name] = convert_input(ctx, schema, d, value, current=record.get(d.name),
                                    check_refs=check_refs)
    et = schema.et
    _sync_contacts(et, new, fields)
    if creating:
        _defaults(ctx, et, new)
        if et.id == 2 and check_refs and not deal_category_exists(
                ctx.conn, int(new.get("CATEGORY_ID") or 0)):
            raise FieldError("CATEGORY_ID")
    _check_stage(et, new)
    _check_required(schema, new, creating)
    return new


def _sync_contacts(et: EntityType, record: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """CONTACT_ID is the first of CONTACT_IDS where a type has both, as on the portal."""
    if et.field("CONTACT_IDS") is None:
        return
    sent = {str(k).upper() for k in fields}
    ids = list(record.get("CONTACT_IDS") or [])
    if "CONTACT_IDS" in sent:
        record["CONTACT_ID"] = ids[0] if ids else None
    elif "CONTACT_ID" in sent:
        contact = record.get("CONTACT_ID")
        record["CONTACT_IDS"] = ([contact] + [i for i in ids if i != contact]) if contact \
            else []


def _defaults(ctx: Ctx, et: EntityType, record: dict[str, Any]) -> None:
    record.setdefault("ASSIGNED_BY_ID", None)
    if record["ASSIGNED_BY_ID"] is None:
        record["ASSIGNED_BY_ID"] = ctx.user_id
    stage_field = {1: "STATUS_ID", 2: "STAGE_ID", 7: "STATUS_ID", 31: "STAGE_ID"}.get(et.id)
    if et.id == 2:
        record["CATEGORY_ID"] = record.get("CATEGORY_ID") or 0
    if et.id == 31:
        record["CATEGORY_ID"] = SMART_INVOICE_CATEGORY
    if stage_field and not record.get(stage_field):
        record[stage_field] = stages_for(et.id, record.get("CATEGORY_ID"))[0]
    if et.id != 31:
        record.setdefault("OPENED", "Y")
    if et.field("CURRENCY_ID") is not None and not record.get("CURRENCY_ID"):
        record["CURRENCY_ID"] = "RUB"
    if et.field("OPPORTUNITY") is not None and record.get("OPPORTUNITY") is None:
        record["OPPORTUNITY"] = 0.0
    if et.id == 3:
        record.setdefault("EXPORT", "Y")
    if et.id == 4:
        record.setdefault("IS_MY_COMPANY", "N")
    if et.id == 2:
        # [D] crm-item-add.md: begindate defaults to the create date, closedate to +7 days.
        start = ctx.parse_dt(ctx.iso(ctx.now)[:10], "BEGINDATE")
        assert start is not None
        record["BEGINDATE"] = record.get("BEGINDATE") or ctx.iso(start)
        record["CLOSEDATE"] = record.get("CLOSEDATE") or ctx.iso(start + timedelta(days=7))


def _check_stage(et: EntityType, record: Mapping[str, Any]) -> None:
    name = {1: "STATUS_ID", 2: "STAGE_ID", 7: "STATUS_ID", 31: "STAGE_ID"}.get(et.id)
    if name and record.get(name) not in stages_for(et.id, record.get("CATEGORY_ID")):
        raise FieldError(name)


def _check_required(schema: Schema, record: Mapping[str, Any], creating: bool) -> None:
    et = schema.et
    if et.id == 4 and not record.get("TITLE"):
        raise FieldError("TITLE", required=True)
    if et.id == 3 and not (record.get("NAME") or record.get("LAST_NAME")):
        raise FieldError("NAME", required=True)
    if creating:
        for uf in schema.userfields.values():
            if uf.mandatory and record.get(uf.field_name) in (None, "", []):
                raise FieldError(uf.field_name, required=True)


def convert_input(ctx: Ctx, schema: Schema, d: FieldDef, value: Any, *, current: Any = None,
                  check_refs: bool = True) -> Any:
    """One caller value -> its stored form (FieldError when it can't be)."""
    if d.is_multifield:
        return _merge_multifield(ctx, d.name, current or [], value)
    uf = schema.userfields.get(d.name)
    if d.multiple or (uf is not None and uf.multiple):
        values = value if isinstance(value, list | tuple) else \
            list(value.values()) if isinstance(value, Mapping) else \
            [] if value in (None, "", False) else [value]
        return [_scalar(ctx, d, uf, v, check_refs) for v in values if v not in (None, "")]
    if value is None or value == "" or (value is False and d.type not in CHAR_TYPES):
        return None
    return _scalar(ctx, d, uf, value, check_refs)


def _scalar(ctx: Ctx, d: FieldDef, uf: UserField | None, value: Any, check_refs: bool) -> Any:
    kind = uf.user_type_id if uf is not None else d.type
    try:
        if kind in INT_TYPES:
            number = int(str(value).strip())
            if number < 0:
                raise ValueError(value)
            if check_refs:
                _check_reference(ctx, d.name, kind, number)
            return number
        if kind in FLOAT_TYPES:
            return round(float(str(value).strip()), 2) if uf is None else float(value)
        if kind == "boolean":
            flag = parse_bool(value)
            if flag is None:
                raise ValueError(value)
            return 1 if flag else 0
        if kind == "char":
            flag = parse_bool(value)
            if flag is None:
                raise ValueError(value)
            return "Y" if flag else "N"
        if kind in DATE_TYPES | DATETIME_TYPES:
            parsed = ctx.parse_dt(value, d.name)
            if parsed is not None and kind in DATE_TYPES:
                # A date means midnight in the portal's zone.
                local = ctx.parse_dt(ctx.iso(parsed)[:10], d.name)
                parsed = local
            return ctx.iso(parsed) if parsed is not None else None
        if kind == "enumeration" and uf is not None:
            ids = {str(item["ID"]) for item in uf.items}
            if str(value).strip() not in ids:
                raise ValueError(value)
            return str(value).strip()
    except (ValueError, TypeError, SimError):
        raise FieldError(d.name) from None
    if isinstance(value, dict | list):
        raise FieldError(d.name)
    return str(value)


def _check_reference(ctx: Ctx, name: str, kind: str, number: int) -> None:
    if kind in ("user", "employee"):
        if number == 0 and name != "ASSIGNED_BY_ID":
            return
        if get_user(ctx, number) is None:
            raise FieldError(name, unknown_user=number)
        return
    target = {"crm_company": 4, "crm_contact": 3, "crm_lead": 1, "crm_deal": 2,
              "crm_quote": 7}.get(kind)
    if target is None or number == 0:
        return
    found = ctx.conn.execute(select(tables.crm_items.c.id).where(
        tables.crm_items.c.id == number, tables.crm_items.c.entity_type_id == target)).first()
    if found is None:
        raise FieldError(name)


def _merge_multifield(ctx: Ctx, name: str, current: list[dict[str, Any]], value: Any
                      ) -> list[dict[str, Any]]:
    """PHONE/EMAIL/... input: entries without ID are added, ``{"ID": .., "VALUE": ..}``
    changes one, ``{"ID": .., "DELETE": "Y"}`` removes one ([D] crm/data-types.md)."""
    entries = value if isinstance(value, list | tuple) else \
        list(value.values()) if isinstance(value, Mapping) else None
    if entries is None:
        raise FieldError(name)
    result = [dict(e) for e in current]
    next_id = _next_multifield_id(ctx, result)
    allowed = MULTIFIELD_TYPES.get(name)
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise FieldError(name)
        entry = {str(k).upper(): v for k, v in entry.items()}
        value_type = str(entry.get("VALUE_TYPE") or "WORK").upper()
        if allowed is not None and value_type not in allowed:
            raise FieldError(name)
        existing = next((e for e in result if str(e.get("ID")) == str(entry.get("ID"))), None) \
            if entry.get("ID") not in (None, "") else None
        if existing is not None:
            if parse_bool(entry.get("DELETE")) or entry.get("VALUE") in (None, ""):
                result.remove(existing)
            else:
                existing["VALUE"] = str(entry["VALUE"])
                existing["VALUE_TYPE"] = value_type
            continue
        if entry.get("VALUE") in (None, ""):
            continue
        result.append({"ID": str(next_id), "VALUE_TYPE": value_type,
                       "VALUE": str(entry["VALUE"])})
        next_id += 1
    _store_multifield_id(ctx, next_id)
    return result


def _next_multifield_id(ctx: Ctx, entries: list[dict[str, Any]]) -> int:
    stored = ctx.conn.execute(select(core_tables.settings.c.value).where(
        core_tables.settings.c.key == "crm_multifield_seq")).scalar()
    local = max((int(e["ID"]) for e in entries if str(e.get("ID", "")).isdigit()), default=0)
    return max(int(stored or 0), local) + 1


def _store_multifield_id(ctx: Ctx, next_id: int) -> None:
    table = core_tables.settings
    updated = ctx.conn.execute(table.update().where(table.c.key == "crm_multifield_seq")
                               .values(value=next_id - 1)).rowcount
    if not updated:
        ctx.conn.execute(table.insert().values(key="crm_multifield_seq", value=next_id - 1))

"""CRM items between the database and the two REST dialects.

An item is handled as a *record*: ``{UPPER_NAME: stored value}`` merging the promoted columns
of ``sim_crm_item`` with its ``fields`` JSON (storage conventions in the team brief). Records are
rendered in the old-API shape (:func:`to_old_api`: strings for numbers, ``"Y"``/``"N"``) or the
``crm.item`` shape (:func:`to_item_api`: camelCase, ints). Caller input is validated and
converted by :func:`simulator.crm.input.apply_input` (required fields, defaults, references).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from simulator.core import config_cache
from simulator.core.errors import FieldRequired, SimError
from simulator.crm import tables
from simulator.crm.entity_types import (
    CHAR_TYPES,
    DATE_TYPES,
    DATETIME_TYPES,
    FLOAT_TYPES,
    INT_TYPES,
    EntityType,
    FieldDef,
    is_closed,
    semantic,
)
from simulator.crm.errors import (
    ItemFieldNotValid,
    ItemFieldRequired,
    ItemFieldUnknownUser,
    UnknownUser,
)
from simulator.crm.userfields import UserField, load_userfields

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from simulator.core.context import Ctx

MULTIFIELD_TYPES = {
    "PHONE": ("WORK", "MOBILE", "FAX", "HOME", "PAGER", "MAILING", "OTHER"),
    "EMAIL": ("WORK", "HOME", "MAILING", "OTHER"),
    "WEB": None, "IM": None,  # many messenger/site kinds; any is accepted
}
# Fields whose value the simulator computes for output; never stored.
DERIVED = {"HAS_PHONE", "HAS_EMAIL", "STATUS_SEMANTIC_ID", "STAGE_SEMANTIC_ID", "IS_NEW"}


class FieldError(Exception):
    """Bad input for one field; each API layer renders it in its own error shape."""

    def __init__(self, field: str, *, required: bool = False,
                 unknown_user: int | None = None) -> None:
        super().__init__(f"{field}: {'required' if required else 'invalid'}")
        self.field = field
        self.required = required
        self.unknown_user = unknown_user  # the field names a user who does not exist

    def old_error(self) -> SimError:
        if self.unknown_user is not None:
            return UnknownUser(name=self.field, user_id=self.unknown_user)
        return FieldRequired(name=self.field)

    def item_error(self, item_name: str) -> SimError:
        if self.required:
            return ItemFieldRequired(name=item_name)
        if self.unknown_user is not None:
            return ItemFieldUnknownUser(name=self.field, user_id=self.unknown_user)
        return ItemFieldNotValid(name=item_name)


class Schema:
    """The fields of one entity type on this portal: standard ones plus its user fields."""

    def __init__(self, et: EntityType, userfields: Iterable[UserField]) -> None:
        self.et = et
        self.userfields = {uf.field_name: uf for uf in userfields}
        self.defs: dict[str, FieldDef] = {d.name: d for d in et.fields}
        for uf in self.userfields.values():
            self.defs[uf.field_name] = uf.as_field_def()
        self._by_item = {d.item_name.lower(): d for d in self.defs.values()}
        self._old_plan: dict[str, tuple[FieldDef, UserField | None, bool]] | None = None

    @classmethod
    def load(cls, conn: Connection, et: EntityType) -> Schema:
        """The type's fields now (user fields from the configuration cache,
        simulator.core.config_cache; a Schema is never changed once built)."""
        return config_cache.lookup(conn, ("schema", et.id),
                                   lambda: cls(et, load_userfields(conn, et.uf_entity)))

    def get(self, name: str) -> FieldDef | None:
        return self.defs.get(name.upper())

    def by_item_name(self, name: str) -> FieldDef | None:
        """A crm.item name (``assignedById``, ``ufCrmCategory``) or an original UF name."""
        found = self._by_item.get(name.lower())
        if found is None and name.upper().startswith("UF_"):
            found = self.userfields[name.upper()].as_field_def() \
                if name.upper() in self.userfields else None
        return found

    def item_name(self, definition: FieldDef, original_uf_names: bool = False) -> str:
        if original_uf_names and definition.name in self.userfields:
            return definition.name
        return definition.item_name

    def old_plan(self) -> dict[str, tuple[FieldDef, UserField | None, bool]]:
        """How :func:`to_old_api` renders each field: name -> (definition, user field,
        *plain*), in the fields' order, without the crm.item-only ones. A plain field's
        non-empty scalar value is its text as it is (ids, strings, enumerations)."""
        plan = self._old_plan
        if plan is None:
            plan = {}
            for name, d in self.defs.items():
                if d.item_only:
                    continue
                uf = self.userfields.get(name)
                kind = uf.user_type_id if uf is not None else d.type
                plain = name not in DERIVED and not d.is_multifield and kind not in _STYLED
                plan[name] = (d, uf, plain)
            self._old_plan = plan
        return plan

    # Field groups for ``select`` (see simulator.core.listing.resolve_select).
    @property
    def standard_names(self) -> list[str]:
        return [d.name for d in self.et.fields if not d.multiple and not d.item_only]

    @property
    def uf_names(self) -> list[str]:
        return list(self.userfields)

    @property
    def multiple_names(self) -> list[str]:
        return [d.name for d in self.et.fields if d.multiple]

    def json_filter_kinds(self) -> dict[str, str]:
        """JSON-stored fields with their filter kind (simulator.core.listing.JSON_KINDS)."""
        kinds: dict[str, str] = {}
        for d in self.defs.values():
            if d.column or d.name in DERIVED:
                continue
            kinds[d.name] = _filter_kind(d)
        return kinds


def _filter_kind(d: FieldDef) -> str:
    if d.is_multifield:
        return "multifield"
    if d.multiple:
        return "list"
    if d.type in INT_TYPES or d.type == "boolean":
        return "int" if d.type != "boolean" else "bool"
    if d.type in FLOAT_TYPES:
        return "float"
    if d.type in DATE_TYPES:
        return "date"
    if d.type in DATETIME_TYPES:
        return "datetime"
    return "string"


# -- rows and records ------------------------------------------------------------------------
def row_to_record(et: EntityType, row: Row[Any] | Mapping[str, Any]) -> dict[str, Any]:
    data = row._mapping if hasattr(row, "_mapping") else row
    try:  # a whole row has every column (and ``[]`` is much cheaper than ``get`` on a row)
        return _record(et, data.__getitem__)
    except KeyError:
        return _record(et, data.get)


def _record(et: EntityType, get: Callable[[str], Any]) -> dict[str, Any]:
    record: dict[str, Any] = dict(get("fields") or {})
    for name, column in et.promoted:
        record[name] = get(column)
    record["ID"] = get("id")
    return record


def record_to_row(et: EntityType, record: Mapping[str, Any]) -> dict[str, Any]:
    """Column values for ``sim_crm_item`` (without ``id``) from a record."""
    row: dict[str, Any] = {"entity_type_id": et.id, "fields": {}}
    by_name = et.by_name
    for key, value in record.items():
        if key == "ID" or key in DERIVED:
            continue
        d = by_name.get(key)
        if d is None and not key.isupper():
            d = et.field(key)
        if d is not None and d.column:
            row[d.column] = value
        else:
            row["fields"][key] = value
    if et.id == 3:
        name = " ".join(str(record.get(k) or "").strip() for k in ("NAME", "LAST_NAME"))
        row["title"] = name.strip() or str(record.get("SECOND_NAME") or "")
    row.setdefault("title", "")
    row["closed"] = is_closed(et.id, row.get("stage_id"))
    return row


_ITEMS = tables.crm_items
_LOAD_RECORD = select(_ITEMS).where(_ITEMS.c.id == bindparam("b_item_id"),
                                    _ITEMS.c.entity_type_id == bindparam("b_type"))


def load_record(conn: Connection, et: EntityType, item_id: int) -> dict[str, Any] | None:
    row = conn.execute(_LOAD_RECORD, {"b_item_id": item_id, "b_type": et.id}).first()
    return None if row is None else row_to_record(et, row)


# -- output ------------------------------------------------------------------------------------
# Types whose values the old API writes in a form of its own (not their plain text).
_STYLED = FLOAT_TYPES | DATE_TYPES | DATETIME_TYPES | {"char", "boolean"}


def _derived(et: EntityType, record: Mapping[str, Any], name: str) -> Any:
    if name == "HAS_PHONE":
        return "Y" if record.get("PHONE") else "N"
    if name == "HAS_EMAIL":
        return "Y" if record.get("EMAIL") else "N"
    if name in ("STATUS_SEMANTIC_ID", "STAGE_SEMANTIC_ID"):
        return semantic(et.id, record.get("STATUS_ID") or record.get("STAGE_ID"))
    if name == "IS_NEW":
        stage = str(record.get("STAGE_ID") or "")
        return "Y" if stage.split(":")[-1] == "NEW" else "N"
    return None


def _moment(ctx: Ctx, value: Any) -> Any:
    """A stored date or time as the portal writes it: ISO 8601 with the portal's offset (a bare
    stored date means midnight there)."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return ctx.iso(ctx.parse_dt(value))
        except SimError:
            return value
    return value if isinstance(value, str) else ctx.iso(value)


def _old_value(ctx: Ctx, d: FieldDef, uf: UserField | None, value: Any) -> Any:
    kind = uf.user_type_id if uf is not None else d.type
    if isinstance(value, list):
        if d.is_multifield:
            return [{"ID": e.get("ID"), "VALUE_TYPE": e.get("VALUE_TYPE"),
                     "VALUE": e.get("VALUE"), "TYPE_ID": d.name} for e in value]
        return [_old_value(ctx, d, None if uf is None else uf.single(), v) for v in value]
    if value is None:
        if d.name == "CATEGORY_ID":
            return "0"
        if d.multiple or (uf is not None and uf.multiple):
            return []
        return None
    if kind in FLOAT_TYPES:
        return f"{float(value):.2f}" if uf is None else str(value)
    if kind in DATE_TYPES | DATETIME_TYPES:
        return _moment(ctx, value)
    if kind == "char" and isinstance(value, bool):
        return "Y" if value else "N"
    if kind == "boolean":
        return "1" if value else "0"
    return str(value)


def _item_value(ctx: Ctx, d: FieldDef, uf: UserField | None, value: Any) -> Any:
    kind = uf.user_type_id if uf is not None else d.type
    if isinstance(value, list):
        return [_item_value(ctx, d, None if uf is None else uf.single(), v) for v in value]
    if value is None:
        if d.name == "CATEGORY_ID":
            return 0
        return [] if d.multiple or (uf is not None and uf.multiple) else None
    if kind in INT_TYPES or kind == "enumeration":
        return int(value)
    if kind in FLOAT_TYPES:
        return float(value)
    if kind in DATE_TYPES | DATETIME_TYPES:
        return _moment(ctx, value)
    if kind in CHAR_TYPES:
        return "Y" if value in (True, 1, "Y", "1") else "N"
    return value


def to_old_api(ctx: Ctx, schema: Schema, record: Mapping[str, Any],
               names: Iterable[str] | None = None) -> dict[str, Any]:
    """The old methods' shape (``crm.deal.get``): UPPER names, numbers as strings."""
    plan = schema.old_plan()
    out: dict[str, Any] = {}
    for name in (plan if names is None else names):
        step = plan.get(name)
        if step is not None:
            _render_old(ctx, schema.et, step, name, record, out)
    return out


def _render_old(ctx: Ctx, et: EntityType, step: tuple[FieldDef, UserField | None, bool],
                name: str, record: Mapping[str, Any], out: dict[str, Any]) -> None:
    d, uf, plain = step
    value = record.get(name)
    if plain and value is not None and type(value) is not list:
        out[name] = value if type(value) is str else str(value)
    elif name in DERIVED:
        out[name] = _derived(et, record, name)
    else:
        out[name] = _old_value(ctx, d, uf, value)


def old_api_changed(ctx: Ctx, schema: Schema, shown: Mapping[str, Any],
                    record: Mapping[str, Any], changed: Mapping[str, Any]) -> dict[str, Any]:
    """``to_old_api(ctx, schema, changed)`` when ``shown`` is ``to_old_api(ctx, schema,
    record)``: only the fields whose stored value differs, and the derived ones, are rendered
    again."""
    plan = schema.old_plan()
    out = dict(shown)
    et = schema.et
    for name, step in plan.items():
        new = changed.get(name)
        old = record.get(name)
        if name in DERIVED or type(new) is not type(old) or new != old:
            _render_old(ctx, et, step, name, changed, out)
    return out


def to_item_api(ctx: Ctx, schema: Schema, record: Mapping[str, Any],
                names: Iterable[str] | None = None, *, original_uf_names: bool = False,
                with_fm: bool = True) -> dict[str, Any]:
    """The ``crm.item.*`` shape: camelCase names, ints; multifields as ``fm``."""
    et = schema.et
    defs, userfields = schema.defs, schema.userfields
    out: dict[str, Any] = {}
    fm: list[dict[str, Any]] = []
    any_multifield = False
    for name in (defs if names is None else names):
        d = defs.get(name)
        if d is None:
            continue
        if d.is_multifield:
            any_multifield = True
            fm.extend({"id": int(e["ID"]), "typeId": d.name, "valueType": e.get("VALUE_TYPE"),
                       "value": e.get("VALUE")} for e in record.get(name) or [])
            continue
        key = d.name if original_uf_names and name in userfields else d.item_name
        if name in DERIVED:
            out[key] = _derived(et, record, name)
            continue
        out[key] = _item_value(ctx, d, userfields.get(name), record.get(name))
    if with_fm and any_multifield:
        out["fm"] = fm
    out["entityTypeId"] = et.id
    return out


def field_descriptions(schema: Schema, *, item_api: bool = False) -> dict[str, Any]:
    """``crm.*.fields`` / ``crm.item.fields`` maps."""
    out: dict[str, Any] = {}
    for d in schema.defs.values():
        if d.item_only and not item_api:
            continue
        uf = schema.userfields.get(d.name)
        info: dict[str, Any] = {
            "type": d.type, "isRequired": d.required or bool(uf and uf.mandatory),
            "isReadOnly": d.read_only, "isImmutable": d.immutable,
            "isMultiple": d.multiple or bool(uf and uf.multiple), "isDynamic": uf is not None,
            "title": d.title,
        }
        if d.status_type:
            info["statusType"] = d.status_type
        if uf is not None:
            info.update(uf.description())
        if item_api:
            info["upperName"] = d.name
            out[d.item_name] = info
        else:
            out[d.name] = info
    return out


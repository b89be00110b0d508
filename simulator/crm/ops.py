"""Writing CRM items: the one path for ``crm.{type}.*`` and ``crm.item.*`` (and any code that
changes items the way a person on the portal would).

Each change runs the *before* event (an in-process subscriber may veto it: nothing is
written), writes, queues the *after* event with the item before and after (old-API shape;
``crm.item`` shape for smart invoices) and tells a newly assigned person, as the portal's
notification centre does ("You have been made responsible for the deal ..."). An update that
changes nothing runs no event and writes nothing (not even DATE_MODIFY).

Events (reference §8, [D] api-reference/crm/universal/events): ONCRM{TYPE}ADD/UPDATE/DELETE
for lead, deal, contact, company and quote; ONCRMDYNAMICITEMADD/UPDATE/DELETE plus the
``_31`` variant, with ``data.FIELDS.ENTITY_TYPE_ID = 31``, for smart invoices.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select

from simulator.core.bus import ShapePair, Shapes
from simulator.crm import tables
from simulator.crm.activity_fields import FIELDS as ACTIVITY_FIELDS
from simulator.crm.activity_fields import to_api as activity_api
from simulator.crm.entity_types import ENTITY_TYPES, EntityType, entity_type
from simulator.crm.fields import (
    Schema,
    load_record,
    old_api_changed,
    record_to_row,
    to_item_api,
    to_old_api,
)
from simulator.crm.input import apply_input

if TYPE_CHECKING:
    from simulator.core.context import Ctx

DEFAULT_TITLES = {1: "Lead #{id}", 2: "Deal #{id}", 7: "Quote #{id}", 31: "Invoice #{id}"}
STAGE_FIELDS = {1: "STATUS_ID", 2: "STAGE_ID", 7: "STATUS_ID", 31: "STAGE_ID"}


class ItemNotFound(Exception):
    """No item of that type with that id (each API renders its own error)."""


def _et(value: EntityType | int | str) -> EntityType:
    return value if isinstance(value, EntityType) else entity_type(value)


def event_shape(ctx: Ctx, schema: Schema, record: Mapping[str, Any]) -> dict[str, Any]:
    """The item as events carry it: old-API shape, or crm.item shape for smart invoices."""
    if schema.et.has_old_api:
        return to_old_api(ctx, schema, record)
    return to_item_api(ctx, schema, record)


def read_item(ctx: Ctx, et: EntityType | int | str, item_id: int, *, api: str = "old"
              ) -> dict[str, Any] | None:
    """An item as ``crm.{type}.get`` (``api="old"``) or ``crm.item.get`` (``"item"``) shows
    it, or None."""
    et = _et(et)
    record = load_record(ctx.conn, et, item_id)
    if record is None:
        return None
    schema = Schema.load(ctx.conn, et)
    if api == "item":
        return to_item_api(ctx, schema, record)
    return to_old_api(ctx, schema, record)


def build_row(ctx: Ctx, et: EntityType | int | str, fields: Mapping[str, Any], *,
              schema: Schema | None = None, check_refs: bool = False,
              user_id: int | None = None, created: datetime | None = None) -> dict[str, Any]:
    """A validated ``sim_crm_item`` row for a bulk insert (no events, no notices).

    ``fields`` use old-API UPPER names (smart invoices: UPPER_SNAKE of the crm.item names).
    ``created`` sets DATE_CREATE/DATE_MODIFY (default: now), ``user_id`` the author
    (default: the context's user). Raises :class:`simulator.crm.fields.FieldError`."""
    et = _et(et)
    schema = schema or Schema.load(ctx.conn, et)
    record = apply_input(ctx, schema, {}, fields, creating=True, check_refs=check_refs)
    when = (created or ctx.now).replace(microsecond=0)
    _stamp_new(ctx, et, record, user_id or ctx.user_id, when)
    row = record_to_row(et, record)
    row["fields"] = {k: v for k, v in row["fields"].items() if v is not None}
    return row


def _stamp_new(ctx: Ctx, et: EntityType, record: dict[str, Any], user_id: int,
               when: datetime) -> None:
    record.update(CREATED_BY_ID=user_id, MODIFY_BY_ID=user_id, DATE_CREATE=when,
                  DATE_MODIFY=when)
    if et.id in (2, 31):
        record.update(MOVED_BY_ID=user_id, MOVED_TIME=ctx.iso(when))


def create_item(ctx: Ctx, et: EntityType | int | str, fields: Mapping[str, Any], *,
                check_refs: bool = True, notify: bool = True) -> int:
    """Add an item as the context's user; returns its id. ``notify=False``: no "you are
    responsible" notice (``params[REGISTER_SONET_EVENT]=N``). Raises FieldError or Veto."""
    et = _et(et)
    schema = Schema.load(ctx.conn, et)
    record = apply_input(ctx, schema, {}, fields, creating=True, check_refs=check_refs)
    _stamp_new(ctx, et, record, ctx.user_id, ctx.now.replace(microsecond=0))
    ctx.before(f"ONBEFORE{et.event_base[2:]}ADD", entity_type=et.name,
               before=None, after=event_shape(ctx, schema, record))
    row = record_to_row(et, record)
    row["fields"] = {k: v for k, v in row["fields"].items() if v is not None}
    inserted = ctx.conn.execute(tables.crm_items.insert().values(**row)).inserted_primary_key
    assert inserted is not None
    item_id = int(inserted[0])
    if not row["title"] and et.id in DEFAULT_TITLES:
        title = DEFAULT_TITLES[et.id].format(id=item_id)
        ctx.conn.execute(tables.crm_items.update().where(tables.crm_items.c.id == item_id)
                         .values(title=title))
        record["TITLE"] = title
    record["ID"] = item_id
    _record_stage(ctx, et, item_id, record, created=True)
    _emit(ctx, schema, "ADD", item_id, None, event_shape(ctx, schema, record))
    if notify:
        _notify_assigned(ctx, et, item_id, None, record)
    return item_id


def _stored(et: EntityType, record: Mapping[str, Any]) -> dict[str, Any]:
    row = record_to_row(et, record)
    row["fields"] = {k: v for k, v in row["fields"].items() if v is not None}
    return row


def _set_in_row(et: EntityType, row: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Put record ``values`` into ``row`` (a :func:`_stored` row) as record_to_row would
    (none of them may be one that the title or the closed flag is worked out from)."""
    for key, value in values.items():
        d = et.by_name.get(key)
        if d is not None and d.column:
            row[d.column] = value
        elif value is not None:
            row["fields"][key] = value
        else:
            row["fields"].pop(key, None)


def changed_shape(ctx: Ctx, schema: Schema, before: dict[str, Any],
                  current: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``event_shape(ctx, schema, new)`` given ``before``, the event shape of ``current``."""
    if schema.et.has_old_api:
        return old_api_changed(ctx, schema, before, current, new)
    return to_item_api(ctx, schema, new)


_UPDATE_ITEM = tables.crm_items.update().where(tables.crm_items.c.id == bindparam("b_item_id"))


def update_item(ctx: Ctx, et: EntityType | int | str, item_id: int,
                fields: Mapping[str, Any], *, check_refs: bool = True, notify: bool = True
                ) -> bool:
    """Change an item as the context's user; False when the input changes nothing (then
    nothing is written or published, as tasks and users do). ``notify=False``: no "you are
    responsible" notice (``params[REGISTER_SONET_EVENT]=N``). Raises ItemNotFound, FieldError
    or Veto."""
    et = _et(et)
    current = load_record(ctx.conn, et, item_id)
    if current is None:
        raise ItemNotFound(item_id)
    schema = Schema.load(ctx.conn, et)
    new = apply_input(ctx, schema, current, fields, creating=False, check_refs=check_refs)
    stored = _stored(et, current)
    row = _stored(et, new)
    if row == stored:
        return False
    stamps: dict[str, Any] = {"MODIFY_BY_ID": ctx.user_id,
                              "DATE_MODIFY": ctx.now.replace(microsecond=0)}
    stage = STAGE_FIELDS.get(et.id)
    if et.id in (2, 31) and stage and new.get(stage) != current.get(stage):
        stamps.update(MOVED_BY_ID=ctx.user_id, MOVED_TIME=ctx.iso(ctx.now))
    if not row["title"] and et.id in DEFAULT_TITLES:
        stamps["TITLE"] = DEFAULT_TITLES[et.id].format(id=item_id)
    new.update(stamps)
    _set_in_row(et, row, stamps)

    def render() -> ShapePair:
        before = event_shape(ctx, schema, current)
        return before, changed_shape(ctx, schema, before, current, new)

    shapes = Shapes(render)
    ctx.before(f"ONBEFORE{et.event_base[2:]}UPDATE", entity_type=et.name, entity_id=item_id,
               shapes=shapes)
    # Only the columns that changed (one statement shape per set of columns, compiled once).
    changes = {column: value for column, value in row.items() if stored.get(column) != value}
    if changes:
        ctx.conn.execute(_UPDATE_ITEM, {"b_item_id": item_id, **changes})
    if stage and new.get(stage) != current.get(stage):
        _record_stage(ctx, et, item_id, new, created=False)
    _emit(ctx, schema, "UPDATE", item_id, None, None, shapes=shapes)
    if notify:
        _notify_assigned(ctx, et, item_id, current, new)
    return True


def delete_item(ctx: Ctx, et: EntityType | int | str, item_id: int) -> None:
    """Delete an item and the activities it owns. Raises ItemNotFound or Veto."""
    et = _et(et)
    current = load_record(ctx.conn, et, item_id)
    if current is None:
        raise ItemNotFound(item_id)
    schema = Schema.load(ctx.conn, et)
    before = event_shape(ctx, schema, current)
    ctx.before(f"ONBEFORE{et.event_base[2:]}DELETE", entity_type=et.name, entity_id=item_id,
               before=before, after=None)
    # The portal removes an item's own activities with it (each with its delete event);
    # activities owned elsewhere only lose this binding.
    activities, bindings = tables.activities, tables.activity_bindings
    owned = ctx.conn.execute(select(activities).where(
        activities.c.owner_type_id == et.id, activities.c.owner_id == item_id)).all()
    gone = [(row.id, activity_api(ctx, row, list(ACTIVITY_FIELDS))) for row in owned]
    owned_ids = [row.id for row in owned]
    ctx.conn.execute(delete(bindings).where(bindings.c.activity_id.in_(owned_ids)))
    ctx.conn.execute(delete(activities).where(activities.c.id.in_(owned_ids)))
    ctx.conn.execute(delete(bindings).where(bindings.c.owner_type_id == et.id,
                                            bindings.c.owner_id == item_id))
    ctx.conn.execute(delete(tables.crm_items).where(tables.crm_items.c.id == item_id))
    _emit(ctx, schema, "DELETE", item_id, before, None)
    for activity_id, shape in gone:
        ctx.emit("ONCRMACTIVITYDELETE", entity_type="ACTIVITY", entity_id=activity_id,
                 before=shape, after=None)


def _emit(ctx: Ctx, schema: Schema, action: str, item_id: int,
          before: dict[str, Any] | None, after: dict[str, Any] | None, *,
          shapes: Shapes | None = None) -> None:
    et = schema.et
    if et.has_old_api:
        ctx.emit(f"{et.event_base}{action}", entity_type=et.name, entity_id=item_id,
                 before=before, after=after, shapes=shapes)
        return
    data = {"FIELDS": {"ID": item_id, "ENTITY_TYPE_ID": et.id}}
    for name in (f"{et.event_base}{action}", f"{et.event_base}{action}_{et.id}"):
        ctx.emit(name, entity_type=et.name, entity_id=item_id, before=before, after=after,
                 data=data, shapes=shapes)


def display_title(et: EntityType, record: Mapping[str, Any]) -> str:
    if et.id == 3:
        name = " ".join(str(record.get(k) or "") for k in ("NAME", "LAST_NAME")).strip()
        return name or f"Contact #{record.get('ID')}"
    return str(record.get("TITLE") or f"#{record.get('ID')}")


def assignment_message(et: EntityType, item_id: int, title: str) -> str:
    """The portal's notice to a new responsible person (BB-code link to the item)."""
    return (f'You have been made responsible for the {et.noun} '
            f'"[URL={et.item_url(item_id)}]{title}[/URL]"')


def _notify_assigned(ctx: Ctx, et: EntityType, item_id: int,
                     before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> None:
    assignee = after.get("ASSIGNED_BY_ID")
    previous = before.get("ASSIGNED_BY_ID") if before is not None else None
    if not assignee or assignee == previous or assignee == ctx.user_id:
        return
    ctx.notify(int(assignee), assignment_message(et, item_id, display_title(et, after)),
               kind="crm_assigned", entity_type=et.name, entity_id=item_id,
               from_user_id=ctx.user_id, notify_type="system",
               tag=f"CRM|{et.name}_RESPONSIBLE|{item_id}")


def touch_last_activity(ctx: Ctx, owner_type_id: int, owner_id: int, *,
                        communication: bool = False) -> None:
    """Refresh LAST_ACTIVITY_TIME/LAST_ACTIVITY_BY (and LAST_COMMUNICATION_TIME for a call or
    e-mail on a contact or company), read-only fields the portal keeps current. No event."""
    if owner_type_id not in ENTITY_TYPES:
        return
    items = tables.crm_items
    row = ctx.conn.execute(select(items.c.fields).where(
        items.c.id == owner_id, items.c.entity_type_id == owner_type_id)).first()
    if row is None:
        return
    fields = dict(row.fields or {})
    fields.update(LAST_ACTIVITY_TIME=ctx.iso(ctx.now), LAST_ACTIVITY_BY=ctx.user_id)
    if communication and owner_type_id in (3, 4):
        fields["LAST_COMMUNICATION_TIME"] = ctx.iso(ctx.now)
    ctx.conn.execute(tables.crm_items.update().where(tables.crm_items.c.id == owner_id)
                     .values(fields=fields))


def _record_stage(ctx: Ctx, et: EntityType, item_id: int, record: Mapping[str, Any], *,
                  created: bool) -> None:
    """The stage history's record of a lead's or deal's stage entry (simulator.crm.statuses)."""
    stage = STAGE_FIELDS.get(et.id)
    if et.id not in (1, 2) or not stage:
        return
    from simulator.crm.statuses import record_stage_entry

    category = record.get("CATEGORY_ID")
    record_stage_entry(ctx, et.id, item_id, record.get(stage),
                       int(category) if category not in (None, "") else None, created=created,
                       when=ctx.now.replace(microsecond=0))

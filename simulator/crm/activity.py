"""``crm.activity.{list,get,add,update,delete,fields}`` and
``crm.activity.binding.{add,list,delete}``.

Mirrors [D] api-reference/crm/timeline/activities/activity-base/* and .../binding/*
(reference §7); field rules are in :mod:`simulator.crm.activity_fields`.

- Every activity has a binding to its owner, plus one per CRM item named in its
  COMMUNICATIONS (the portal binds a call to the contact it was made to) and any added with
  ``crm.activity.binding.add``. ``filter.BINDINGS`` (``[{OWNER_TYPE_ID, OWNER_ID?}]``)
  matches any binding; OWNER_TYPE_ID/OWNER_ID filters match the owner only.
- Events: ONBEFORECRMACTIVITY{ADD,UPDATE,DELETE} (vetoable) and ONCRMACTIVITY{ADD,UPDATE,
  DELETE} with the activity before/after (COMMUNICATIONS and BINDINGS included). An update
  that changes nothing publishes nothing and leaves LAST_UPDATED/EDITOR_ID as they were.
  Binding changes publish no event (the portal documents none).
- Notices: an incoming e-mail (TYPE_ID 4, DIRECTION 1) tells the owner item's responsible
  person (kind ``email_incoming``, entity = the owner item, tag ``CRM_EMAIL|<activity id>``).
  A new activity responsible gets no notice: the portal announces responsibility for
  items, not for activities.
- Adding an activity refreshes LAST_ACTIVITY_TIME/LAST_ACTIVITY_BY of the items it is bound to
  (and LAST_COMMUNICATION_TIME of contacts and companies for calls and e-mails).
- Rights (simulator.crm.rights): a caller who is not an administrator sees the activities they
  are responsible for or whose owner item they may read; changes them when responsible or
  allowed to change the owner item; adds them to items they may change. Otherwise the old
  API's "Access denied" (binding methods: ``ACCESS_DENIED``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, exists, or_, select

from simulator.core.bus import ShapePair, Shapes
from simulator.core.errors import NotDefinedOrInvalid, NotFound, SimError
from simulator.core.listing import apply_filter, apply_order, paginate, resolve_select
from simulator.core.registry import Page, method
from simulator.crm import tables
from simulator.crm.activity_fields import (
    COMMUNICATION_TYPES,
    FIELDS,
    JSON_FILTER_KINDS,
    MULTIPLE,
    apply_input,
    bindings_of,
    changed_api,
    columns,
    field_descriptions,
    item_exists,
    standard_names,
    to_api,
)
from simulator.crm.entity_types import ENTITY_TYPES
from simulator.crm.errors import (
    ActivityAlreadyBound,
    BindingNotFound,
    BindingParameterNotFound,
    EntityNotFound,
    ItemAccessDenied,
    LastBindingCannotBeDeleted,
    OldAccessDenied,
    OwnerNotFound,
)
from simulator.crm.fields import load_record
from simulator.crm.ops import display_title, touch_last_activity
from simulator.crm.rights import (
    check_activity,
    check_item,
    readable_activities,
)

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params

A, B = tables.activities, tables.activity_bindings
ALL_NAMES = list(FIELDS)
# crm.activity.get answers COMMUNICATIONS too (crm.activity.list only when selected).
GET_NAMES = [name for name in FIELDS if name != "BINDINGS"]
_STAMPS = ("editor_id", "last_updated")  # written by every real change, not a change itself


def _id(params: Params) -> int:
    value = params.int("id", error=NotDefinedOrInvalid(name="ID"))
    assert value is not None
    return value


_LOAD = select(A).where(A.c.id == bindparam("b_activity_id"))
_UPDATE = A.update().where(A.c.id == bindparam("b_activity_id"))


def _load(ctx: Ctx, activity_id: int) -> Any:
    return ctx.conn.execute(_LOAD, {"b_activity_id": activity_id}).first()


def _full(ctx: Ctx, activity_id: int) -> dict[str, Any]:
    return to_api(ctx, _load(ctx, activity_id), ALL_NAMES)


def _wanted_bindings(values: dict[str, Any]) -> list[tuple[int, int]]:
    pairs = [(values["owner_type_id"], values["owner_id"])]
    for comm in values["fields"].get("COMMUNICATIONS") or []:
        pairs.append((int(comm["ENTITY_TYPE_ID"]), int(comm["ENTITY_ID"])))
    return list(dict.fromkeys(pairs))


def _add_bindings(ctx: Ctx, activity_id: int, pairs: list[tuple[int, int]],
                  have: set[tuple[int, int]] | None = None) -> None:
    if have is None:
        have = {(b["OWNER_TYPE_ID"], b["OWNER_ID"]) for b in bindings_of(ctx.conn, activity_id)}
    else:
        have = set(have)
    for type_id, item_id in pairs:
        if (type_id, item_id) not in have:
            ctx.conn.execute(B.insert().values(activity_id=activity_id, owner_type_id=type_id,
                                               owner_id=item_id))
            have.add((type_id, item_id))


@method("crm.activity.add")
def activity_add(ctx: Ctx, params: Params) -> int:
    values = apply_input(ctx, None, params.dict("fields"))
    # Adding an activity changes its owner item (reference §7: binding needs edit access).
    check_item(ctx, values["owner_type_id"], values["owner_id"], change=True,
               denied=OldAccessDenied())
    pairs = _wanted_bindings(values)
    proposed = to_api(ctx, {**values, "id": 0}, [n for n in ALL_NAMES if n != "BINDINGS"])
    proposed["BINDINGS"] = [{"OWNER_TYPE_ID": str(t), "OWNER_ID": str(i)} for t, i in pairs]
    ctx.before("ONBEFORECRMACTIVITYADD", entity_type="ACTIVITY", before=None, after=proposed)
    inserted = ctx.conn.execute(A.insert().values(**values)).inserted_primary_key
    assert inserted is not None
    activity_id = int(inserted[0])
    _add_bindings(ctx, activity_id, pairs)
    ctx.emit("ONCRMACTIVITYADD", entity_type="ACTIVITY", entity_id=activity_id, before=None,
             after=_full(ctx, activity_id))
    for type_id, item_id in pairs:
        touch_last_activity(ctx, type_id, item_id,
                            communication=values["type_id"] in COMMUNICATION_TYPES)
    if values["type_id"] == 4 and values["direction"] == 1:
        _notify_incoming_email(ctx, activity_id, values)
    return activity_id


def _notify_incoming_email(ctx: Ctx, activity_id: int, values: dict[str, Any]) -> None:
    et = ENTITY_TYPES.get(values["owner_type_id"])
    if et is None:
        return
    owner = load_record(ctx.conn, et, values["owner_id"])
    if owner is None or not owner.get("ASSIGNED_BY_ID"):
        return
    sender = next((c["VALUE"] for c in values["fields"].get("COMMUNICATIONS") or []), "")
    message = (f'New incoming e-mail "{values["subject"]}"'
               + (f" from {sender}" if sender else "")
               + f' for the {et.noun} "[URL={et.item_url(values["owner_id"])}]'
               f'{display_title(et, owner)}[/URL]"')
    ctx.notify(int(owner["ASSIGNED_BY_ID"]), message, kind="email_incoming",
               entity_type=et.name, entity_id=values["owner_id"], notify_type="system",
               tag=f"CRM_EMAIL|{activity_id}")


@method("crm.activity.get")
def activity_get(ctx: Ctx, params: Params) -> dict[str, Any]:
    row = _load(ctx, _id(params))
    if row is None:
        raise NotFound()
    check_activity(ctx, row, change=False)
    return to_api(ctx, row, GET_NAMES)


@method("crm.activity.update")
def activity_update(ctx: Ctx, params: Params) -> bool:
    activity_id = _id(params)
    row = _load(ctx, activity_id)
    if row is None:
        raise NotFound()
    check_activity(ctx, row, change=True)
    stored = {k: v for k, v in row._mapping.items() if k != "id"}
    values = apply_input(ctx, dict(row._mapping), params.dict("fields"))
    bindings = bindings_of(ctx.conn, activity_id)
    have = {(b["OWNER_TYPE_ID"], b["OWNER_ID"]) for b in bindings}
    wanted = _wanted_bindings(values)
    if all(values[k] == stored[k] for k in stored if k not in _STAMPS) \
            and set(wanted) <= have:
        return True  # nothing changes: no events, LAST_UPDATED stays
    pairs = sorted(have | set(wanted))
    after_bindings = [{"OWNER_TYPE_ID": t, "OWNER_ID": i} for t, i in pairs]

    def render() -> ShapePair:
        before = to_api(ctx, row, ALL_NAMES, bindings=bindings)
        return before, changed_api(ctx, before, row, values, after_bindings)

    shapes = Shapes(render)
    ctx.before("ONBEFORECRMACTIVITYUPDATE", entity_type="ACTIVITY", entity_id=activity_id,
               shapes=shapes)
    # Only the columns that changed (one statement shape per set of columns, compiled once).
    changes = {k: v for k, v in values.items() if k in stored and v != stored[k]}
    if changes:
        ctx.conn.execute(_UPDATE, {"b_activity_id": activity_id, **changes})
    _add_bindings(ctx, activity_id, wanted, have)
    ctx.emit("ONCRMACTIVITYUPDATE", entity_type="ACTIVITY", entity_id=activity_id,
             shapes=shapes)
    return True


@method("crm.activity.delete")
def activity_delete(ctx: Ctx, params: Params) -> bool:
    activity_id = _id(params)
    row = _load(ctx, activity_id)
    if row is None:
        raise NotFound()
    check_activity(ctx, row, change=True)
    before = to_api(ctx, row, ALL_NAMES)
    ctx.before("ONBEFORECRMACTIVITYDELETE", entity_type="ACTIVITY", entity_id=activity_id,
               before=before, after=None)
    ctx.conn.execute(delete(B).where(B.c.activity_id == activity_id))
    ctx.conn.execute(delete(A).where(A.c.id == activity_id))
    ctx.emit("ONCRMACTIVITYDELETE", entity_type="ACTIVITY", entity_id=activity_id,
             before=before, after=None)
    return True


@method("crm.activity.fields")
def activity_fields(ctx: Ctx, params: Params) -> dict[str, Any]:
    return field_descriptions()


def _bindings_condition(value: Any) -> Any:
    entries = list(value.values()) if isinstance(value, dict) else \
        value if isinstance(value, list) else [value]
    options = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        entry = {str(k).upper(): v for k, v in entry.items()}
        try:
            parts = [B.c.owner_type_id == int(entry["OWNER_TYPE_ID"])]
            if entry.get("OWNER_ID") not in (None, ""):
                parts.append(B.c.owner_id == int(entry["OWNER_ID"]))
        except (KeyError, TypeError, ValueError):
            continue
        options.append(and_(*parts))
    if not options:
        return None
    return exists(select(B.c.activity_id).where(B.c.activity_id == A.c.id, or_(*options)))


@method("crm.activity.list")
def activity_list(ctx: Ctx, params: Params) -> Page:
    filter = params.filter()
    bindings = next((v for k, v in filter.items() if str(k).upper() == "BINDINGS"), None)
    rest = {k: v for k, v in filter.items() if str(k).upper() != "BINDINGS"}
    stmt = select(A)
    readable = readable_activities(ctx)
    if readable is not None:
        stmt = stmt.where(readable)
    stmt = apply_filter(stmt, rest, columns(), ctx=ctx, json_column=A.c.fields,
                        json_fields=JSON_FILTER_KINDS)
    if bindings is not None:
        condition = _bindings_condition(bindings)
        if condition is not None:
            stmt = stmt.where(condition)
    # [D] crm-activity-list.md: the default order is START_TIME ascending.
    stmt = apply_order(stmt, params.dict("order"), columns(), [A.c.start_time.asc()],
                       tiebreak=A.c.id.asc())
    names = resolve_select(params.get("select"), standard=standard_names(),
                           multifields=MULTIPLE)
    return paginate(ctx, stmt, params.get("start"), render=lambda row: to_api(ctx, row, names))


# -- bindings ------------------------------------------------------------------------------
def _binding_args(params: Params, *, with_entity: bool = True) -> tuple[int, int, int]:
    names = ("activityId", "entityTypeId", "entityId") if with_entity else ("activityId",)
    numbers = []
    for name in names:
        value = params.int(name, error=BindingParameterNotFound(name=name))
        assert value is not None
        numbers.append(value)
    numbers += [0] * (3 - len(numbers))
    return numbers[0], numbers[1], numbers[2]


def _activity_or_error(ctx: Ctx, activity_id: int, *, change: bool) -> Any:
    row = _load(ctx, activity_id)
    if row is None:
        raise EntityNotFound()
    try:
        check_activity(ctx, row, change=change)
    except SimError:
        raise ItemAccessDenied() from None
    return row


@method("crm.activity.binding.add")
def binding_add(ctx: Ctx, params: Params) -> bool:
    activity_id, type_id, item_id = _binding_args(params)
    _activity_or_error(ctx, activity_id, change=True)
    if not item_exists(ctx, type_id, item_id):
        raise OwnerNotFound()
    check_item(ctx, type_id, item_id, change=True,
               denied=ItemAccessDenied())
    if (type_id, item_id) in {(b["OWNER_TYPE_ID"], b["OWNER_ID"])
                              for b in bindings_of(ctx.conn, activity_id)}:
        raise ActivityAlreadyBound()
    ctx.conn.execute(B.insert().values(activity_id=activity_id, owner_type_id=type_id,
                                       owner_id=item_id))
    return True


@method("crm.activity.binding.list")
def binding_list(ctx: Ctx, params: Params) -> list[dict[str, int]]:
    activity_id, _t, _i = _binding_args(params, with_entity=False)
    _activity_or_error(ctx, activity_id, change=False)
    return [{"entityTypeId": b["OWNER_TYPE_ID"], "entityId": b["OWNER_ID"]}
            for b in bindings_of(ctx.conn, activity_id)]


@method("crm.activity.binding.delete")
def binding_delete(ctx: Ctx, params: Params) -> bool:
    activity_id, type_id, item_id = _binding_args(params)
    row = _activity_or_error(ctx, activity_id, change=True)
    current = bindings_of(ctx.conn, activity_id)
    pairs = [(b["OWNER_TYPE_ID"], b["OWNER_ID"]) for b in current]
    if (type_id, item_id) not in pairs:
        raise BindingNotFound()
    if len(pairs) == 1:
        raise LastBindingCannotBeDeleted()
    ctx.conn.execute(delete(B).where(B.c.activity_id == activity_id,
                                     B.c.owner_type_id == type_id, B.c.owner_id == item_id))
    if (row.owner_type_id, row.owner_id) == (type_id, item_id):
        # The owner goes with its binding; the first remaining binding becomes the owner.
        new_type, new_id = next(p for p in pairs if p != (type_id, item_id))
        ctx.conn.execute(A.update().where(A.c.id == activity_id)
                         .values(owner_type_id=new_type, owner_id=new_id))
    return True

"""CRM activities (``sim_activity``) between the database and the REST shape.

Facts mirrored ([D] api-reference/crm/timeline/activities/activity-base/crm-activity-*.md,
api-reference/crm/data-types.md, reference §7): TYPE_ID 1 meeting, 2 call, 3 task, 4 e-mail,
5 calendar import, 6 provider-managed; DIRECTION 0/1 incoming/2 outgoing; STATUS 1 pending,
2 completed, 3 auto-completed; PRIORITY 1-3; DESCRIPTION_TYPE 1 plain, 2 BB, 3 HTML;
OWNER_TYPE_ID/OWNER_ID and TYPE_ID are set once; DEADLINE can't be set: it is START_TIME for
calls and meetings, END_TIME for tasks (and, the simulator's choice, START_TIME for e-mails,
END_TIME for the other types); COMMUNICATIONS is required on add (here: for calls
and e-mails, which need someone to talk to); numbers come back as strings (``"TYPE_ID": "2"``).

The simulator's choices where the docs are silent: a call or e-mail without DIRECTION is
outgoing; START_TIME defaults to now and END_TIME to START_TIME; COMPLETED wins over STATUS
when both are sent; unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from simulator.core.errors import FieldRequired
from simulator.core.listing import parse_bool
from simulator.crm import tables
from simulator.crm.entity_types import ENTITY_TYPES
from simulator.crm.errors import BindingOwnerNotFound, UnknownUser
from simulator.users import get_user

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from simulator.core.context import Ctx

TYPES = {1: "MEETING", 2: "CALL", 3: "TASK", 4: "EMAIL", 5: "ACTIVITY", 6: "PROVIDER"}
PROVIDERS = {1: ("CRM_MEETING", "MEETING"), 2: ("VOXIMPLANT_CALL", "CALL"),
             3: ("TASKS", "TASK"), 4: ("CRM_EMAIL", "EMAIL"), 5: ("CRM_MEETING", "MEETING"),
             6: ("CRM_TODO", "TODO")}
COMMUNICATION_TYPES = {2: "PHONE", 4: "EMAIL"}
# Telephony outcome codes kept in SETTINGS.CALL_FAILED_CODE (the brief's convention).
CALL_CODES = {"200": "connected", "304": "missed", "486": "busy", "603": "declined",
              "480": "unavailable"}

# name -> (column or None for the JSON ``fields``, portal type, read-only)
FIELDS: dict[str, tuple[str | None, str, bool]] = {
    "ID": ("id", "integer", True),
    "OWNER_ID": ("owner_id", "integer", False),
    "OWNER_TYPE_ID": ("owner_type_id", "integer", False),
    "TYPE_ID": ("type_id", "crm_enum_activitytype", False),
    "PROVIDER_ID": ("provider_id", "string", False),
    "PROVIDER_TYPE_ID": (None, "string", False),
    "ASSOCIATED_ENTITY_ID": (None, "integer", True),
    "SUBJECT": ("subject", "string", False),
    "CREATED": ("created", "datetime", True),
    "LAST_UPDATED": ("last_updated", "datetime", True),
    "START_TIME": ("start_time", "datetime", False),
    "END_TIME": ("end_time", "datetime", False),
    "DEADLINE": ("deadline", "datetime", True),
    "COMPLETED": ("completed", "char", False),
    "STATUS": ("status", "crm_enum_activitystatus", False),
    "RESPONSIBLE_ID": ("responsible_id", "user", False),
    "PRIORITY": (None, "crm_enum_activitypriority", False),
    "NOTIFY_TYPE": (None, "crm_enum_activitynotifytype", False),
    "NOTIFY_VALUE": (None, "integer", False),
    "DESCRIPTION": ("description", "string", False),
    "DESCRIPTION_TYPE": (None, "crm_enum_contenttype", False),
    "DIRECTION": ("direction", "crm_enum_activitydirection", False),
    "LOCATION": (None, "string", False),
    "SETTINGS": (None, "object", False),
    "ORIGINATOR_ID": (None, "string", False),
    "ORIGIN_ID": (None, "string", False),
    "AUTHOR_ID": ("author_id", "user", False),
    "EDITOR_ID": ("editor_id", "user", True),
    "COMMUNICATIONS": (None, "crm_activity_communication", False),
    "BINDINGS": (None, "crm_activity_binding", True),
}
MULTIPLE = ("COMMUNICATIONS", "BINDINGS")
REQUIRED = ("OWNER_ID", "OWNER_TYPE_ID", "TYPE_ID", "SUBJECT", "RESPONSIBLE_ID")
IMMUTABLE = ("OWNER_ID", "OWNER_TYPE_ID", "TYPE_ID")
JSON_FILTER_KINDS = {"PRIORITY": "int", "DESCRIPTION_TYPE": "int", "ORIGIN_ID": "string",
                     "ORIGINATOR_ID": "string", "LOCATION": "string",
                     "PROVIDER_TYPE_ID": "string"}


# [D] crm-activity-fields.md: DEADLINE follows START_TIME for calls and meetings, END_TIME for
# tasks. E-mails (which the docs leave open) follow START_TIME like calls: the moment the
# message was sent or arrived. Everything else follows END_TIME.
DEADLINE_FROM_START = (1, 2, 4)


def deadline_of(type_id: int, start: datetime | None, end: datetime | None) -> datetime | None:
    """The read-only DEADLINE of an activity of ``type_id`` (seeders use it too)."""
    return start if type_id in DEADLINE_FROM_START else end


def columns() -> dict[str, Any]:
    """API names of the promoted columns (for filter and order)."""
    return {name: tables.activities.c[col] for name, (col, _t, _ro) in FIELDS.items() if col}


def standard_names() -> list[str]:
    return [name for name in FIELDS if name not in MULTIPLE]


def field_descriptions() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (_col, kind, read_only) in FIELDS.items():
        out[name] = {"type": kind, "isRequired": name in REQUIRED or name == "COMMUNICATIONS",
                     "isReadOnly": read_only, "isImmutable": name in IMMUTABLE,
                     "isMultiple": name in MULTIPLE, "isDynamic": False,
                     "title": name.replace("_", " ").capitalize()}
    return out


_B = tables.activity_bindings
_BINDINGS = select(_B.c.owner_type_id, _B.c.owner_id).where(
    _B.c.activity_id == bindparam("b_activity_id")).order_by(_B.c.owner_type_id, _B.c.owner_id)


def bindings_of(conn: Connection, activity_id: int) -> list[dict[str, int]]:
    rows = conn.execute(_BINDINGS, {"b_activity_id": activity_id}).all()
    return [{"OWNER_TYPE_ID": r.owner_type_id, "OWNER_ID": r.owner_id} for r in rows]


def to_api(ctx: Ctx, row: Any, names: list[str] | None = None, *,
           bindings: list[dict[str, int]] | None = None) -> dict[str, Any]:
    """The portal's shape (``crm.activity.get``); COMMUNICATIONS/BINDINGS only when named
    (``bindings``: the activity's bindings when the caller has them already)."""
    data = row._mapping if hasattr(row, "_mapping") else row
    extra = data.get("fields") or {}
    out: dict[str, Any] = {}
    for name in (names if names is not None else _STANDARD):
        step = _PLAN.get(name)
        if step is None:
            continue
        column, how = step
        if how == _BOUND:
            out[name] = [{k: str(v) for k, v in b.items()}
                         for b in (bindings if bindings is not None
                                   else bindings_of(ctx.conn, data["id"]))]
        else:
            out[name] = _render(ctx, how, data.get(column) if column else extra.get(name))
    return out


def changed_api(ctx: Ctx, shown: dict[str, Any], row: Any, values: Mapping[str, Any],
                bindings: list[dict[str, int]]) -> dict[str, Any]:
    """``to_api`` of the activity as ``values`` (its new column values) have it, with
    ``bindings``, given ``shown``, the ``to_api`` of the stored ``row`` with the same names:
    only what differs is rendered again."""
    data = row._mapping if hasattr(row, "_mapping") else row
    old_extra = data.get("fields") or {}
    new_extra = values.get("fields") or {}
    out = dict(shown)
    for name in shown:
        column, how = _PLAN[name]
        if how == _BOUND:
            out[name] = [{k: str(v) for k, v in b.items()} for b in bindings]
            continue
        if column:
            old, new = data.get(column), values.get(column, data.get(column))
        else:
            old, new = old_extra.get(name), new_extra.get(name)
        if type(old) is not type(new) or old != new:
            out[name] = _render(ctx, how, new)
    return out


def _render(ctx: Ctx, how: int, value: Any) -> Any:
    if how == _TEXT:
        return None if value is None else value if type(value) is str else str(value)
    if how == _DATETIME:
        return ctx.iso(value) if value is not None else ""
    if how == _COMMUNICATIONS:
        return [dict(c) for c in value or []]
    if how == _SETTINGS:
        return dict(value) if value else []
    if how == _FLAG:
        return "Y" if value else "N"
    return str(value or 0)  # ASSOCIATED_ENTITY_ID


# How to_api renders each field: name -> (column or None, one of these).
_TEXT, _DATETIME, _COMMUNICATIONS, _BOUND, _SETTINGS, _FLAG, _ZERO = range(7)
_PLAN: dict[str, tuple[str | None, int]] = {
    name: (column, _COMMUNICATIONS if name == "COMMUNICATIONS" else _BOUND
           if name == "BINDINGS" else _SETTINGS if name == "SETTINGS" else _DATETIME
           if kind == "datetime" else _FLAG if name == "COMPLETED" else _ZERO
           if name == "ASSOCIATED_ENTITY_ID" else _TEXT)
    for name, (column, kind, _ro) in FIELDS.items()}
_STANDARD = standard_names()


def _int(name: str, value: Any, allowed: tuple[int, ...] | None = None) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise FieldRequired(name=name) from None
    if allowed is not None and number not in allowed:
        raise FieldRequired(name=name)
    return number


def _user(ctx: Ctx, name: str, value: Any) -> int:
    user_id = _int(name, value)
    if get_user(ctx, user_id) is None:
        raise UnknownUser(name=name, user_id=user_id)
    return user_id


def item_exists(ctx: Ctx, type_id: int, item_id: int) -> bool:
    if type_id not in ENTITY_TYPES:
        return False
    return ctx.conn.execute(select(tables.crm_items.c.id).where(
        tables.crm_items.c.id == item_id, tables.crm_items.c.entity_type_id == type_id)).first() \
        is not None


def _communications(ctx: Ctx, values: dict[str, Any], raw: Any) -> list[dict[str, Any]]:
    entries = list(raw.values()) if isinstance(raw, Mapping) else raw
    if not isinstance(entries, list):
        raise FieldRequired(name="COMMUNICATIONS")
    kind = COMMUNICATION_TYPES.get(values["type_id"], "")
    result: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise FieldRequired(name="COMMUNICATIONS")
        entry = {str(k).upper(): v for k, v in entry.items()}
        type_id = _int("COMMUNICATIONS", entry.get("ENTITY_TYPE_ID") or values["owner_type_id"])
        entity_id = _int("COMMUNICATIONS", entry.get("ENTITY_ID") or values["owner_id"])
        if not item_exists(ctx, type_id, entity_id):
            raise FieldRequired(name="COMMUNICATIONS")
        result.append({"VALUE": str(entry.get("VALUE") or ""), "ENTITY_ID": entity_id,
                       "ENTITY_TYPE_ID": type_id, "TYPE": str(entry.get("TYPE") or kind)})
    return result


def apply_input(ctx: Ctx, current: Mapping[str, Any] | None, fields: Mapping[str, Any]
                ) -> dict[str, Any]:
    """Caller fields -> the activity's new column values (``fields`` JSON included).

    ``current`` is the stored row as a mapping (None when adding). Raises SimError; the steps
    run in the order the fields are checked, so the first problem is the one reported."""
    raw = {str(k).upper(): v for k, v in fields.items()}
    creating = current is None
    values: dict[str, Any] = {k: v for k, v in (current or {}).items() if k != "id"}
    extra = dict(values.get("fields") or {})
    if creating:
        _new_activity(ctx, raw, values, extra)
    _subject_and_people(ctx, raw, values)
    _times(ctx, raw, values)
    _status(raw, values)
    _extra_fields(raw, extra)
    if "COMMUNICATIONS" in raw:
        extra["COMMUNICATIONS"] = _communications(ctx, values, raw["COMMUNICATIONS"])
    if creating and values["type_id"] in COMMUNICATION_TYPES and not extra.get("COMMUNICATIONS"):
        raise FieldRequired(name="COMMUNICATIONS")
    values["fields"] = extra
    values["editor_id"] = ctx.user_id
    values["last_updated"] = ctx.now.replace(microsecond=0)
    return values


def _new_activity(ctx: Ctx, raw: Mapping[str, Any], values: dict[str, Any],
                  extra: dict[str, Any]) -> None:
    """What only ``crm.activity.add`` sets: owner, type, provider, author and defaults."""
    for name in REQUIRED:
        if raw.get(name) in (None, ""):
            raise FieldRequired(name=name)
    values["owner_type_id"] = _int("OWNER_TYPE_ID", raw["OWNER_TYPE_ID"])
    values["owner_id"] = _int("OWNER_ID", raw["OWNER_ID"])
    values["type_id"] = _int("TYPE_ID", raw["TYPE_ID"], tuple(TYPES))
    if not item_exists(ctx, values["owner_type_id"], values["owner_id"]):
        raise BindingOwnerNotFound()
    provider, provider_type = PROVIDERS[values["type_id"]]
    values["provider_id"] = str(raw.get("PROVIDER_ID") or provider)
    extra["PROVIDER_TYPE_ID"] = str(raw.get("PROVIDER_TYPE_ID") or provider_type)
    values["author_id"] = _user(ctx, "AUTHOR_ID", raw.get("AUTHOR_ID") or ctx.user_id)
    values["created"] = ctx.now.replace(microsecond=0)
    values["direction"] = 2 if values["type_id"] in COMMUNICATION_TYPES else 0
    values.update(completed=False, status=1, description="", start_time=None, end_time=None)
    extra.update(PRIORITY=2, DESCRIPTION_TYPE=1, SETTINGS={})


def _subject_and_people(ctx: Ctx, raw: Mapping[str, Any], values: dict[str, Any]) -> None:
    if "SUBJECT" in raw:
        if raw["SUBJECT"] in (None, ""):
            raise FieldRequired(name="SUBJECT")
        values["subject"] = str(raw["SUBJECT"])[:255]
    if "RESPONSIBLE_ID" in raw:
        values["responsible_id"] = _user(ctx, "RESPONSIBLE_ID", raw["RESPONSIBLE_ID"])
    if raw.get("DIRECTION") not in (None, ""):
        values["direction"] = _int("DIRECTION", raw["DIRECTION"], (0, 1, 2))
    if "DESCRIPTION" in raw:
        values["description"] = str(raw["DESCRIPTION"] or "")


def _times(ctx: Ctx, raw: Mapping[str, Any], values: dict[str, Any]) -> None:
    """Start and end (each defaulting to the other, then to now) and the deadline they give."""
    for name, column in (("START_TIME", "start_time"), ("END_TIME", "end_time")):
        if name in raw:
            values[column] = ctx.parse_dt(raw[name], name)
    if values.get("start_time") is None:
        values["start_time"] = values.get("end_time") or ctx.now.replace(microsecond=0)
    if values.get("end_time") is None:
        values["end_time"] = values["start_time"]
    values["deadline"] = deadline_of(values["type_id"], values["start_time"], values["end_time"])


def _status(raw: Mapping[str, Any], values: dict[str, Any]) -> None:
    """``STATUS`` and ``COMPLETED`` set each other; ``COMPLETED`` wins when both are given."""
    if raw.get("STATUS") not in (None, ""):
        values["status"] = _int("STATUS", raw["STATUS"], (1, 2, 3))
        values["completed"] = values["status"] != 1
    if raw.get("COMPLETED") not in (None, ""):
        flag = parse_bool(raw["COMPLETED"])
        if flag is None:
            raise FieldRequired(name="COMPLETED")
        values["completed"] = flag
        values["status"] = 2 if flag else 1


def _extra_fields(raw: Mapping[str, Any], extra: dict[str, Any]) -> None:
    """The fields kept in the ``fields`` JSON: priority, notifications, origin, settings."""
    for name, allowed in (("PRIORITY", (1, 2, 3)), ("DESCRIPTION_TYPE", (1, 2, 3)),
                          ("NOTIFY_TYPE", (0, 1, 2, 3)), ("NOTIFY_VALUE", None)):
        if raw.get(name) not in (None, ""):
            extra[name] = _int(name, raw[name], allowed)
    for name in ("LOCATION", "ORIGIN_ID", "ORIGINATOR_ID"):
        if name in raw:
            extra[name] = None if raw[name] in (None, "") else str(raw[name])
    if "SETTINGS" in raw:
        if not isinstance(raw["SETTINGS"], Mapping | list | type(None)) or \
                (isinstance(raw["SETTINGS"], list) and raw["SETTINGS"]):
            raise FieldRequired(name="SETTINGS")
        extra["SETTINGS"] = {**(extra.get("SETTINGS") or {}), **dict(raw["SETTINGS"] or {})}

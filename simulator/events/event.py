"""Event subscriptions: ``event.bind``, ``event.unbind``, ``event.get``, ``events`` and the
offline queue ``event.offline.get/clear/list``. Delivery itself is simulator.core.bus.

Facts mirrored (reference §8; [D] api-reference/events/*.md):
- ``event.bind{event, handler, auth_type, event_type: online|offline}`` answers ``true``; an
  unknown event is 400 ``ERROR_EVENT_NOT_FOUND`` "Event not found", a repeated binding
  ``ERROR_HANDLER_ALREADY_EXIST`` "Handler already exists!". Non-administrators may neither bind
  offline events nor name another user in ``auth_type`` (403 ``ACCESS_DENIED``). Offline
  bindings need no handler. Event names are upper-cased (the docs spell them both ways).
- The real portal accepts ``event.bind`` only from OAuth applications; a webhook's events are
  chosen in the portal's UI. The simulator also accepts the call from the administrator's
  incoming webhook, so a test or the extension can subscribe without an OAuth dance. Every
  handler is sent the portal's application token (``sim.application_token``).
- ``event.unbind`` (administrators) answers ``{"count": n}``; parameters left out match every
  handler. ``event.get`` lists ``[{event, handler, auth_type, offline}]``.
- ``event.offline.get{filter, order (TIMESTAMP_X asc), limit (50), clear (1), process_id}``
  answers ``{process_id, events: [{ID, TIMESTAMP_X, EVENT_NAME, EVENT_DATA, EVENT_ADDITIONAL,
  MESSAGE_ID}]}``. Parallel callers get disjoint sets: rows are claimed with a conditional
  update, so on PostgreSQL a row claimed by a concurrent call is skipped. With ``clear=0`` the
  rows stay, hidden under the process id, until ``event.offline.clear{process_id, id[] |
  message_id[]}``. ``event.offline.list`` reads the queue without changing it.
- ``ONUSERUPDATE`` is bindable here although no real portal offers it (see simulator/users/user.py).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, false, select

from simulator.core import config_cache
from simulator.core import tables as core_tables
from simulator.core.errors import AccessDenied, SimError
from simulator.core.listing import apply_filter, apply_order, paginate, parse_bool
from simulator.core.registry import method
from simulator.events.errors import (
    AuthTypeNotUser,
    EventNotFound,
    HandlerAlreadyExists,
    HandlerNotUrl,
    NullOrEmpty,
    RecordIdsInvalid,
    WrongEventType,
)
from simulator.users import is_admin

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from simulator.core.context import Ctx
    from simulator.core.params import Params

_CRM = ("LEAD", "DEAL", "CONTACT", "COMPANY", "QUOTE")
KNOWN_EVENTS: tuple[str, ...] = (
    "ONAPPUNINSTALL", "ONAPPINSTALL", "ONAPPUPDATE", "ONAPPPAYMENT", "ONAPPTEST",
    "ONAPPMETHODCONFIRM", "ONOFFLINEEVENT", "ONUSERADD", "ONUSERUPDATE",
    *(f"ONCRM{entity}{action}" for entity in _CRM for action in ("ADD", "UPDATE", "DELETE")),
    *(f"ONCRM{entity}USERFIELD{action}" for entity in _CRM
      for action in ("ADD", "UPDATE", "DELETE", "SETENUMVALUES")),
    "ONCRMDEALMOVETOCATEGORY", "ONCRMINVOICEADD", "ONCRMINVOICEUPDATE", "ONCRMINVOICEDELETE",
    "ONCRMINVOICESETSTATUS", "ONCRMACTIVITYADD", "ONCRMACTIVITYUPDATE", "ONCRMACTIVITYDELETE",
    "ONCRMTIMELINECOMMENTADD", "ONCRMTIMELINECOMMENTUPDATE", "ONCRMTIMELINECOMMENTDELETE",
    "ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE",
    "ONCRMDYNAMICITEMADD_31", "ONCRMDYNAMICITEMUPDATE_31", "ONCRMDYNAMICITEMDELETE_31",
    "ONTASKADD", "ONTASKUPDATE", "ONTASKDELETE", "ONTASKCOMMENTADD", "ONTASKCOMMENTUPDATE",
    "ONTASKCOMMENTDELETE", "ONCALENDARENTRYADD", "ONCALENDARENTRYUPDATE",
    "ONCALENDARENTRYDELETE",
)
_SCOPES = {"crm": "ONCRM", "task": "ONTASK", "user": "ONUSER", "calendar": "ONCALENDAR"}

H = core_tables.event_handlers
Q = core_tables.offline_events
OFFLINE_COLUMNS: dict[str, Any] = {"ID": Q.c.id, "TIMESTAMP_X": Q.c.timestamp_x,
                                   "EVENT_NAME": Q.c.event_name, "MESSAGE_ID": Q.c.message_id}


def _null_or_empty(name: str) -> SimError:
    return NullOrEmpty(name=name)


def _auth_type(params: Params) -> int | None:
    value = params.get("auth_type")
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise AuthTypeNotUser() from None


def _event_type(params: Params) -> str:
    kind = str(params.get("event_type") or "online").strip().lower()
    if kind not in ("online", "offline"):
        raise WrongEventType()
    return kind


@method("event.bind")
def event_bind(ctx: Ctx, params: Params) -> Any:
    name = str(params.get("event") or "").strip().upper()
    if name not in KNOWN_EVENTS:
        raise EventNotFound()
    kind = _event_type(params)
    auth_type = _auth_type(params) or 0
    if not is_admin(ctx, ctx.user_id) and (kind == "offline"
                                           or auth_type not in (0, ctx.user_id)):
        raise AccessDenied()
    handler = "" if kind == "offline" else str(params.get("handler") or "").strip()
    if kind == "online":
        if not handler:
            raise _null_or_empty("handler")
        if not handler.lower().startswith(("http://", "https://")):
            raise HandlerNotUrl()
    duplicate = ctx.conn.execute(select(H.c.id).where(
        H.c.event == name, H.c.handler == handler, H.c.auth_type == auth_type,
        H.c.event_type == kind)).first()
    if duplicate is not None:
        raise HandlerAlreadyExists()
    ctx.conn.execute(H.insert().values(event=name, handler=handler, auth_type=auth_type,
                                       event_type=kind,
                                       application_token=ctx.sim.application_token))
    config_cache.changed(ctx.conn)
    return True


@method("event.unbind")
def event_unbind(ctx: Ctx, params: Params) -> Any:
    if not is_admin(ctx, ctx.user_id):
        raise AccessDenied()
    name = str(params.get("event") or "").strip().upper()
    if not name:
        raise _null_or_empty("event")
    stmt = delete(H).where(H.c.event == name, H.c.event_type == _event_type(params))
    handler = str(params.get("handler") or "").strip()
    if handler:
        stmt = stmt.where(H.c.handler == handler)
    if "auth_type" in params:
        stmt = stmt.where(H.c.auth_type == (_auth_type(params) or 0))
    count = int(ctx.conn.execute(stmt).rowcount or 0)
    if count:
        config_cache.changed(ctx.conn)
    return {"count": count}


@method("event.get")
def event_get(ctx: Ctx, params: Params) -> Any:
    rows = ctx.conn.execute(select(H).order_by(H.c.id)).all()
    return [{"event": row.event, "handler": row.handler, "auth_type": str(row.auth_type),
             "offline": 1 if row.event_type == "offline" else 0} for row in rows]


@method("events")
def events(ctx: Ctx, params: Params) -> Any:
    scope = str(params.get("SCOPE") or "").strip().lower()
    if scope:
        prefix = _SCOPES.get(scope)
        return [name for name in KNOWN_EVENTS if prefix and name.startswith(prefix)]
    return list(KNOWN_EVENTS)


# -- the offline queue ------------------------------------------------------------------------
def _offline_as_api(ctx: Ctx, row: Row[Any]) -> dict[str, Any]:
    return {"ID": str(row.id), "TIMESTAMP_X": ctx.iso(row.timestamp_x),
            "EVENT_NAME": row.event_name, "EVENT_DATA": row.event_data or False,
            "EVENT_ADDITIONAL": row.event_additional or False, "MESSAGE_ID": row.message_id}


def _limit(params: Params) -> int:
    try:
        limit = int(str(params.get("limit") or 50).strip())
    except ValueError:
        limit = 50
    return max(1, min(limit, 1000))


@method("event.offline.get")
def event_offline_get(ctx: Ctx, params: Params) -> Any:
    clear = parse_bool(params.get("clear")) if params.get("clear") not in (None, "") else True
    given = str(params.get("process_id") or "").strip()
    process_id = given or uuid.uuid4().hex
    order = params.dict("order")
    held = ctx.conn.execute(select(Q.c.id).where(Q.c.process_id == process_id)).all() \
        if given else []
    room = _limit(params) - len(held)
    if room > 0:
        stmt = apply_filter(select(Q.c.id).where(Q.c.process_id.is_(None)),
                            params.dict("filter"), OFFLINE_COLUMNS, ctx=ctx)
        stmt = apply_order(stmt, order, OFFLINE_COLUMNS, default=[Q.c.timestamp_x.asc()],
                           tiebreak=Q.c.id)
        # SKIP LOCKED (PostgreSQL; SQLite runs one call at a time) lets a parallel call take
        # the next rows instead of waiting for ours, and the conditional update below claims
        # only rows nobody else claimed meanwhile: parallel calls get disjoint sets.
        stmt = stmt.limit(room).with_for_update(skip_locked=True)
        ids = [row.id for row in ctx.conn.execute(stmt).all()]
        if ids:
            ctx.conn.execute(Q.update().where(Q.c.id.in_(ids), Q.c.process_id.is_(None))
                             .values(process_id=process_id))
    stmt = apply_order(select(Q).where(Q.c.process_id == process_id), order, OFFLINE_COLUMNS,
                       default=[Q.c.timestamp_x.asc()], tiebreak=Q.c.id)
    rows = ctx.conn.execute(stmt).all()
    if clear:
        ctx.conn.execute(delete(Q).where(Q.c.process_id == process_id))
    return {"process_id": None if clear else process_id,
            "events": [_offline_as_api(ctx, row) for row in rows]}


def _id_list(value: Any) -> list[Any]:
    if value in (None, "", []):
        return []
    if isinstance(value, dict):
        return list(value.values())
    return value if isinstance(value, list) else [value]


@method("event.offline.clear")
def event_offline_clear(ctx: Ctx, params: Params) -> Any:
    process_id = str(params.get("process_id") or "").strip()
    if not process_id:
        raise _null_or_empty("process_id")
    stmt = delete(Q).where(Q.c.process_id == process_id)
    ids = _id_list(params.get("id"))
    message_ids = _id_list(params.get("message_id"))
    if ids:
        try:
            stmt = stmt.where(Q.c.id.in_([int(str(i)) for i in ids]))
        except ValueError:
            raise RecordIdsInvalid() from None
    elif message_ids:
        stmt = stmt.where(Q.c.message_id.in_([str(m) for m in message_ids]))
    ctx.conn.execute(stmt)
    return True


@method("event.offline.list")
def event_offline_list(ctx: Ctx, params: Params) -> Any:
    filter_ = params.dict("filter")
    columns = {**OFFLINE_COLUMNS, "PROCESS_ID": Q.c.process_id}
    stmt = select(Q)
    errors_only = [v for k, v in filter_.items() if str(k).lstrip("=!<>@%").upper() == "ERROR"]
    if any(parse_bool(v) for v in errors_only):
        stmt = stmt.where(false())  # delivery to the queue never fails here
    stmt = apply_filter(stmt, filter_, columns, ctx=ctx)
    stmt = apply_order(stmt, params.dict("order"), columns, default=[Q.c.id.asc()],
                       tiebreak=Q.c.id)
    return paginate(ctx, stmt, params.get("start"), render=lambda row: {
        **_offline_as_api(ctx, row), "PROCESS_ID": row.process_id or "", "ERROR": "0"})

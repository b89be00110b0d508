"""``voximplant.statistic.get``, ``telephony.externalcall.register`` and
``telephony.externalcall.finish`` (reference wave 2, 3.1-3.2).

Facts mirrored:

- a registered call with a CRM item (``CRM_ENTITY_TYPE``/``CRM_ENTITY_ID``) gets a call
  activity on that item at once, not completed (``PROVIDER_ID`` ``VOXIMPLANT_CALL``,
  ``ORIGIN_ID`` ``VI_<CALL_ID>``, the number as its communication);
- ``finish``: ``STATUS_CODE`` defaults to ``200`` when ``DURATION`` > 0, else ``304``; the
  activity then ends ``DURATION`` seconds after the start; an incoming (or callback) call's
  activity is completed unless the code is ``304``, in which case ``SETTINGS.MISSED_CALL`` is
  set; an outgoing call's activity is completed **even when the call failed**: only the
  statistics (``CALL_FAILED_CODE``, ``CALL_DURATION``) tell a conversation from an attempt;
- the answer of ``finish`` is the statistics record;
- ``voximplant.statistic.get`` pages the records (``FILTER``, ``SORT``, ``ORDER``, ``start``;
  50 a page, ``start=-1`` answers ``total: 0`` as the CRM lists do); a caller who is not an
  administrator sees only their own calls (the portal answers ``ACCESS_DENIED`` to someone
  who may not see statistics at all; the simulator grants everyone their own).

Not simulated: a lead created for an unknown number (``CRM_CREATE`` without an item only
records the call), the chat message ``ADD_TO_CHAT`` posts, records and costs.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core.filtering import apply_filter
from simulator.core.listing import paginate
from simulator.core.params import Params
from simulator.core.registry import method
from simulator.telephony import tables
from simulator.telephony.errors import CallNotFound, UserRequired, WrongType
from simulator.users import is_admin

if TYPE_CHECKING:
    from simulator.core.context import Ctx

S = tables.call_statistics
ENTITY_TYPE_IDS = {"LEAD": 1, "CONTACT": 3, "COMPANY": 4}
OUTGOING_TYPES = (1, 4)  # outgoing, callback: the manager dials
COLUMNS = {"ID": S.c.id, "CALL_ID": S.c.call_id, "EXTERNAL_CALL_ID": S.c.external_call_id,
           "PORTAL_USER_ID": S.c.portal_user_id, "PORTAL_NUMBER": S.c.portal_number,
           "PHONE_NUMBER": S.c.phone_number, "CALL_TYPE": S.c.call_type,
           "CALL_DURATION": S.c.call_duration, "CALL_START_DATE": S.c.call_start_date,
           "CALL_FAILED_CODE": S.c.call_failed_code,
           "CALL_FAILED_REASON": S.c.call_failed_reason,
           "CRM_ENTITY_TYPE": S.c.crm_entity_type, "CRM_ENTITY_ID": S.c.crm_entity_id,
           "CRM_ACTIVITY_ID": S.c.crm_activity_id, "CALL_VOTE": S.c.call_vote,
           "COST": S.c.cost}


def render(ctx: Ctx, row: Any) -> dict[str, Any]:
    """A statistics record as the portal answers it (every value a string, or null)."""
    out: dict[str, Any] = {}
    for name, column in COLUMNS.items():
        value = row._mapping[column.name]
        if name == "CALL_START_DATE":
            value = ctx.iso(value)
        out[name] = None if value is None else str(value)
    return out


def _user(ctx: Ctx, params: Params) -> int:
    user_id = params.int("USER_ID", required=False)
    if not user_id:
        raise UserRequired()
    return user_id


@method("telephony.externalcall.register")
def externalcall_register(ctx: Ctx, params: Params) -> dict[str, Any]:
    from simulator.crm import activity_add

    user_id = _user(ctx, params)
    call_type = params.int("TYPE", required=False) or 0
    if call_type not in (1, 2, 3, 4):
        raise WrongType()
    start = ctx.parse_dt(params.get("CALL_START_DATE"), "CALL_START_DATE") or ctx.now
    phone = str(params.get("PHONE_NUMBER") or "").strip()
    entity_type = str(params.get("CRM_ENTITY_TYPE") or "").strip().upper() or None
    entity_id = params.int("CRM_ENTITY_ID", required=False)
    if entity_type not in ENTITY_TYPE_IDS or not entity_id:
        entity_type, entity_id = None, None
    call_id = f"externalCall.{uuid.uuid4().hex}.{int(start.timestamp())}"
    activity_id = None
    if entity_type is not None and entity_id:
        outgoing = call_type in OUTGOING_TYPES
        activity_id = activity_add(ctx, Params({"fields": {
            "OWNER_TYPE_ID": ENTITY_TYPE_IDS[entity_type], "OWNER_ID": entity_id,
            "TYPE_ID": 2, "PROVIDER_ID": "VOXIMPLANT_CALL", "PROVIDER_TYPE_ID": "CALL",
            "DIRECTION": 2 if outgoing else 1, "COMPLETED": "N",
            "SUBJECT": ("Outgoing call to " if outgoing else "Incoming call from ") + phone,
            "RESPONSIBLE_ID": user_id, "START_TIME": ctx.iso(start),
            "END_TIME": ctx.iso(start), "ORIGIN_ID": f"VI_{call_id}",
            "COMMUNICATIONS": [{"VALUE": phone, "TYPE": "PHONE",
                                "ENTITY_TYPE_ID": ENTITY_TYPE_IDS[entity_type],
                                "ENTITY_ID": entity_id}]}}))
    ctx.conn.execute(S.insert().values(
        call_id=call_id, portal_user_id=user_id, phone_number=phone, call_type=call_type,
        call_duration=0, call_start_date=start, crm_entity_type=entity_type,
        crm_entity_id=entity_id, crm_activity_id=activity_id,
        external_call_id=str(params.get("EXTERNAL_CALL_ID") or "") or None))
    return {"CALL_ID": call_id, "CRM_CREATED_LEAD": None, "CRM_CREATED_ENTITIES": [],
            "CRM_ENTITY_TYPE": entity_type, "CRM_ENTITY_ID": entity_id,
            "CRM_ACTIVITY_ID": activity_id, "LEAD_CREATION_ERROR": None}


@method("telephony.externalcall.finish")
def externalcall_finish(ctx: Ctx, params: Params) -> dict[str, Any]:
    from simulator.crm import activity_update

    call_id = str(params.get("CALL_ID") or "").strip()
    user_id = _user(ctx, params)
    row = ctx.conn.execute(select(S).where(S.c.call_id == call_id)).first() if call_id else None
    if row is None or row.call_failed_code is not None:
        raise CallNotFound()
    duration = max(0, params.int("DURATION", required=False) or 0)
    code = str(params.get("STATUS_CODE") or "").strip() or ("200" if duration > 0 else "304")
    vote = params.int("VOTE", required=False)
    ctx.conn.execute(S.update().where(S.c.id == row.id).values(
        call_duration=duration, call_failed_code=code, portal_user_id=user_id,
        call_failed_reason=str(params.get("FAILED_REASON") or "") or None, call_vote=vote,
        cost=str(params.get("COST") or "") or None))
    if row.crm_activity_id is not None:
        outgoing = row.call_type in OUTGOING_TYPES
        fields: dict[str, Any] = {
            "END_TIME": ctx.iso(row.call_start_date + timedelta(seconds=duration)),
            "COMPLETED": "Y" if outgoing or code != "304" else "N"}
        if not outgoing and code == "304":
            fields["SETTINGS"] = {"MISSED_CALL": True}
        activity_update(ctx, Params({"id": row.crm_activity_id, "fields": fields}))
    fresh = ctx.conn.execute(select(S).where(S.c.id == row.id)).one()
    return {**render(ctx, fresh), "INCOMING": str(row.call_type)}


@method("voximplant.statistic.get")
def statistic_get(ctx: Ctx, params: Params) -> Any:
    stmt = select(S)
    if not is_admin(ctx, ctx.user_id):
        stmt = stmt.where(S.c.portal_user_id == ctx.user_id)
    stmt = apply_filter(stmt, params.filter("FILTER"), COLUMNS, ctx=ctx)
    sort = COLUMNS.get(str(params.get("SORT") or "ID").strip().upper(), S.c.id)
    descending = str(params.get("ORDER") or "ASC").strip().upper() == "DESC"
    stmt = stmt.order_by(sort.desc() if descending else sort.asc(),
                         S.c.id.desc() if descending else S.c.id.asc())
    return paginate(ctx, stmt, params.get("start"), render=lambda row: render(ctx, row))

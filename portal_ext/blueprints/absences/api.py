"""``/api/v1/absences`` and ``/api/v1/deputies`` on the API blueprint (bearer tokens, the
API's error shape ``{"error": {"code", "message", "field"}}``, paging as ``/users``).

People are portal user ids. Times are ISO 8601; without an offset they are the portal's local
time, a bare date is a whole day (an end date is inclusive); answers carry the portal's offset.
A rejected absence is 422 ``validation`` naming the field and saves nothing; touching someone
else's absence without the right is 403 ``forbidden``. Messages are in English.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify, request, url_for
from sqlalchemy import func, select

from portal_ext.absences import access, services
from portal_ext.absences.cover import build_cover_list
from portal_ext.absences.editors import check_may_edit, editable_users, may_edit
from portal_ext.absences.models import Absence, StandingDeputy
from portal_ext.absences.times import TimeFormatError, inclusive_last_day, iso_local, parse_bound
from portal_ext.auth.api_auth import ApiError, api_auth, current_api_user
from portal_ext.blueprints.absences.api_docs import ABSENCES_QUERY, DEPUTIES_QUERY
from portal_ext.blueprints.api import bp
from portal_ext.blueprints.api.params import body_id, json_object, parse_query
from portal_ext.blueprints.api.refusals import in_english
from portal_ext.context import Context, here
from portal_ext.extensions import db
from portal_ext.portal.clock import portal_zone
from portal_ext.portal.errors import PortalError

EARLIEST, LATEST = datetime(1970, 1, 1), datetime(9999, 1, 1)
FIELDS = ("user_id", "start", "end", "kind", "deputy_id", "note", "temporary_access")


def _invalid(field: str, message: object) -> ApiError:
    db.session.rollback()
    return ApiError(422, "validation", in_english(message), field)


def absence_json(absence: Absence, h: Context, names: dict[int, str], *,
                 with_note: bool) -> dict[str, Any]:
    return {
        "id": absence.id, "user_id": absence.user_id, "user_name": names.get(absence.user_id),
        "start": iso_local(absence.start, h.tz), "end": iso_local(absence.end, h.tz),
        "last_day": inclusive_last_day(absence.end, h.tz).isoformat(), "kind": absence.kind,
        "deputy_id": absence.deputy_id,
        "deputy_name": names.get(absence.deputy_id) if absence.deputy_id else None,
        "note": absence.note if with_note else None, "state": absence.state,
        "source": absence.source, "chart_entry_id": absence.chart_entry_id,
        "recorded_by_id": absence.recorded_by_id,
        "recorded_at": iso_local(absence.recorded_at, h.tz),
        "updated_at": iso_local(absence.updated_at, h.tz),
        "temporary_access": absence.temporary_access,
        "access": {"user_id": absence.access_user_id,
                   "granted_at": iso_local(absence.access_granted_at, h.tz),
                   "error": absence.access_error},
    }


def _body(*, partial: bool) -> dict[str, Any]:
    body = json_object(FIELDS)
    values: dict[str, Any] = {}
    for name in ("user_id", "deputy_id"):
        if name in body:
            value = body[name]
            if value is not None or name == "user_id":
                value = body_id(value, name, what="a portal user id")
            values[name] = value
    h_tz = portal_zone()
    for name in ("start", "end"):
        if name in body:
            try:
                values[name] = parse_bound(body[name], end=name == "end", tz=h_tz)
            except (TimeFormatError, OverflowError):
                raise _invalid(name, f"'{name}' must be an ISO 8601 date or date-time, e.g. "
                                     "2026-12-01 or 2026-12-01T09:00:00+03:00.") from None
        elif not partial:
            raise _invalid(name, f"'{name}' is required.")
    for name in ("kind", "note"):
        if name in body:
            if not isinstance(body[name], str):
                raise _invalid(name, f"'{name}' must be a string.")
            values[name] = body[name]
    if "temporary_access" in body:
        if not isinstance(body["temporary_access"], bool):
            raise _invalid("temporary_access", "'temporary_access' must be true or false.")
        values["temporary_access"] = body["temporary_access"]
    return values


def _bound(value: str | None, name: str, h: Context) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_bound(value, end=name == "to", tz=h.tz)
    except OverflowError:  # past the calendar's first or last day: as far as it goes
        return EARLIEST if value.lstrip().startswith("0001") else LATEST
    except TimeFormatError:
        raise ApiError(422, "invalid_parameter", f"'{name}' must be an ISO 8601 date or "
                       "date-time, e.g. 2026-12-01.", name) from None


def _found(h: Context, absence_id: int) -> Absence:
    absence = services.absence_of(portal_id=h.portal.id, absence_id=absence_id)
    if absence is None:
        raise ApiError(404, "not_found", f"There is no absence {absence_id}.")
    return absence


@bp.post("/absences")
@api_auth()
def create_absence() -> Any:
    """Record an absence (yourself by default)."""
    h, actor = here(), current_api_user()
    values = _body(partial=False)
    data = services.AbsenceInput(
        user_id=values.get("user_id", actor.portal_user_id), start=values["start"],
        end=values["end"], kind=values.get("kind", "vacation"),
        deputy_id=values.get("deputy_id"), note=values.get("note", ""),
        temporary_access=values.get("temporary_access", False))
    absence = services.create_absence(portal=h.portal, actor=h.actor, data=data, now=h.now,
                                      tz=h.tz)
    response = jsonify(absence_json(absence, h, h.names(), with_note=True))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_absence", absence_id=absence.id)
    return response


@bp.get("/absences")
@api_auth()
def list_absences() -> Any:
    """Absences of the portal, newest first; notes only of those you may edit."""
    h, actor = here(), current_api_user()
    query = parse_query(ABSENCES_QUERY, request.args)
    period = None
    if query["from"] is not None or query["to"] is not None:
        period = (_bound(query["from"], "from", h) or EARLIEST,
                  _bound(query["to"], "to", h) or LATEST)
    statement = services.find_absences(
        portal_id=h.portal.id, user_ids=[query["user"]] if query["user"] else None,
        state=query["state"], period=period, deputy_id=query["deputy"])
    page, per_page = query["page"], query["per_page"]
    total = db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = db.session.scalars(statement.offset((page - 1) * per_page).limit(per_page))
    editable = {p.portal_user_id for p in editable_users(actor)}
    names = h.names()
    items = [absence_json(a, h, names, with_note=a.user_id in editable) for a in rows]
    pages = max(1, -(-total // per_page))
    return jsonify({"items": items, "page": page, "per_page": per_page, "total": total,
                    "pages": pages})


@bp.get("/absences/<int:absence_id>")
@api_auth()
def get_absence(absence_id: int) -> Any:
    h, actor = here(), current_api_user()
    absence = _found(h, absence_id)
    body = absence_json(absence, h, h.names(), with_note=may_edit(actor, absence.user_id))
    cover = services.cover_for(portal_id=h.portal.id, user_id=absence.user_id, at=h.now)
    body["covered_now_by"] = (None if cover is None or not absence.covers(h.now) else
                              {"user_id": cover.user_id, "reason": cover.reason,
                               "path": list(cover.path)})
    return jsonify(body)


@bp.patch("/absences/<int:absence_id>")
@api_auth()
def update_absence(absence_id: int) -> Any:
    h, actor = here(), current_api_user()
    absence = _found(h, absence_id)
    check_may_edit(actor, absence.user_id)
    changes = _body(partial=True)
    services.update_absence(portal=h.portal, actor=h.actor, absence=absence, changes=changes,
                            now=h.now, tz=h.tz)
    return jsonify(absence_json(absence, h, h.names(), with_note=True))


@bp.delete("/absences/<int:absence_id>")
@api_auth()
def delete_absence(absence_id: int) -> Any:
    h = here()
    absence = _found(h, absence_id)
    try:
        services.delete_absence(portal=h.portal, actor=h.actor, absence=absence,
                                withdraw=lambda a: access.withdraw(h.client, a), now=h.now)
    except PortalError as exc:
        db.session.rollback()
        raise ApiError(503, "portal_unavailable", "The deputy's temporary access could not be "
                       f"withdrawn ({exc}); the absence was kept. Try again later.") from None
    return "", 204


@bp.get("/absences/<int:absence_id>/cover")
@api_auth()
def absence_cover(absence_id: int) -> Any:
    """The deputy's cover list (the deputy, the cover, the user, their head, an admin)."""
    h, actor = here(), current_api_user()
    absence = _found(h, absence_id)
    cover = services.cover_for(portal_id=h.portal.id, user_id=absence.user_id,
                               at=min(max(h.now, absence.start), absence.end))
    if actor.portal_user_id not in (absence.deputy_id, cover and cover.user_id) \
            and not may_edit(actor, absence.user_id):
        raise ApiError(403, "forbidden", "Only the deputy, the absent user, their department "
                                         "head or an administrator may read the cover list.")
    try:
        items = build_cover_list(client=h.client, absence=absence, now=h.now, links=h.links)
    except PortalError as exc:
        raise ApiError(503, "portal_unavailable", f"The portal did not answer: {exc}") from None
    return jsonify({"absence_id": absence.id, "user_id": absence.user_id,
                    "covered_by": cover.user_id if cover else None, "total": items.total,
                    **{name: [item.as_dict(lambda t: iso_local(t, h.tz)) for item in section]
                       for name, section in items.sections().items()}})


# -- standing deputies ----------------------------------------------------------------------------
def _deputy_json(row: StandingDeputy, names: dict[int, str]) -> dict[str, Any]:
    return {"user_id": row.user_id, "user_name": names.get(row.user_id),
            "deputy_id": row.deputy_id, "deputy_name": names.get(row.deputy_id),
            "set_by_id": row.set_by_id}


@bp.get("/deputies")
@api_auth()
def list_deputies() -> Any:
    h = here()
    query = parse_query(DEPUTIES_QUERY, request.args)
    rows = sorted(services.standing_deputies(h.portal.id).values(), key=lambda r: r.user_id)
    if query["user"] is not None:
        rows = [r for r in rows if r.user_id == query["user"]]
    names = h.names()
    return jsonify({"items": [_deputy_json(r, names) for r in rows], "total": len(rows)})


@bp.put("/deputies/<int:user_id>")
@api_auth()
def set_deputy(user_id: int) -> Any:
    h = here()
    body = json_object(("deputy_id",))
    if "deputy_id" not in body:
        raise _invalid("deputy_id", "'deputy_id' is required: a portal user id, or null to "
                                    "clear the standing deputy.")
    deputy_id = body["deputy_id"]
    if deputy_id is not None:
        deputy_id = body_id(deputy_id, "deputy_id", what="a portal user id or null")
    row = services.set_standing_deputy(portal=h.portal, actor=h.actor, user_id=user_id,
                                       deputy_id=deputy_id, now=h.now)
    if row is None:
        return "", 204
    return jsonify(_deputy_json(row, h.names()))


@bp.delete("/deputies/<int:user_id>")
@api_auth()
def clear_deputy(user_id: int) -> Any:
    h = here()
    services.set_standing_deputy(portal=h.portal, actor=h.actor, user_id=user_id, deputy_id=None,
                                 now=h.now)
    return "", 204

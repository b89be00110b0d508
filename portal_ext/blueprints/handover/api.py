"""``/api/v1/handovers`` on the API blueprint (bearer tokens, errors
``{"error": {"code", "message", "field"}}``; messages in English).

``POST /handovers`` previews (counts per type and a sample; nothing moves), ``POST
/handovers/<id>/apply`` is the explicit confirmation (``{"start": "absence_start"}``, the
default, waits for an absence that has not begun: state ``scheduled``; ``"now"`` moves at
once), ``GET
/handovers/<id>`` tells the state, counts per type and progress, ``POST
/handovers/<id>/restore`` gives everything back. A refused request changes nothing: 422
``validation`` naming the field, 403 ``forbidden``, 404 ``not_found``, 409 ``conflict`` (the
absence already has a handover, or the handover is not in a state for this).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for

from portal_ext.auth.api_auth import ApiError, api_auth, current_api_user
from portal_ext.blueprints.api import bp
from portal_ext.blueprints.api.params import body_id, json_object
from portal_ext.blueprints.api.refusals import portal_unavailable
from portal_ext.context import Context, here
from portal_ext.handover import services
from portal_ext.handover.report import build_report, samples
from portal_ext.moves import progress
from portal_ext.moves.models import MoveBatch
from portal_ext.moves.types import TYPE_NAMES
from portal_ext.portal.errors import PortalError

FIELDS = ("absence_id", "types", "include_closed", "include_new_leads")


def handover_json(batch: MoveBatch, h: Context) -> dict[str, Any]:
    links, names = h.links, h.names()
    report = build_report(batch, links, names=names)
    body: dict[str, Any] = {
        "id": batch.id, "state": batch.state, "absence_id": batch.absence_id,
        "owner_id": batch.owner_id, "deputy_id": batch.to_user_id,
        "types": batch.types, "include_closed": bool(batch.options.get("include_closed")),
        "include_new_leads": bool(batch.options.get("include_new_leads")),
        "created_by": batch.created_by, "counts": report.rows, "totals": report.totals,
        "progress": (status := progress(batch)), "failed": status["failed"],
        "problems": [item.as_dict() for item in report.problems],
        "links": {"self": url_for("api.get_handover", handover_id=batch.id),
                  "page": url_for("handover.show", batch_id=batch.id)}}
    if batch.state == "preview":
        body["sample"] = {name: [item.as_dict() for item in items]
                          for name, items in samples(batch, links).items()}
    return body


def _body() -> dict[str, Any]:
    body = json_object(FIELDS)
    if "absence_id" not in body:
        raise ApiError(422, "validation", "'absence_id' is required.", "absence_id")
    body_id(body["absence_id"], "absence_id", what="an absence id")
    types = body.get("types", list(TYPE_NAMES))
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise ApiError(422, "validation", "'types' must be a list of: "
                       + ", ".join(TYPE_NAMES) + ".", "types")
    for name in ("include_closed", "include_new_leads"):
        if not isinstance(body.get(name, False), bool):
            raise ApiError(422, "validation", f"'{name}' must be true or false.", name)
    return {**body, "types": types}


def _start_field() -> str:
    """``{"start": "absence_start" | "now"}``, optional (no body: ``absence_start``)."""
    if not request.get_data():
        return services.START_WITH_ABSENCE
    start = json_object(["start"]).get("start", services.START_WITH_ABSENCE)
    if start not in services.STARTS:
        raise ApiError(422, "validation", "'start' must be one of: "
                       + ", ".join(services.STARTS) + ".", "start")
    return str(start)


def _found(h: Context, handover_id: int) -> MoveBatch:
    batch = services.handover_of(h.portal, handover_id)
    if batch is None:
        raise ApiError(404, "not_found", f"There is no handover {handover_id}.")
    return batch


@bp.post("/handovers")
@api_auth("admin", "head")
def create_handover() -> Any:
    """Preview a handover of an absence: what would move to the deputy, per type."""
    h, values = here(), _body()
    try:
        batch = services.preview_handover(
            portal=h.portal, client=h.client, actor=h.actor,
            absence_id=values["absence_id"], types=values["types"],
            include_closed=values.get("include_closed", False),
            include_new_leads=values.get("include_new_leads", False), now=h.now)
    except PortalError as exc:
        raise portal_unavailable(exc) from None
    response = jsonify(handover_json(batch, h))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_handover", handover_id=batch.id)
    return response


@bp.get("/handovers/<int:handover_id>")
@api_auth("admin", "head")
def get_handover(handover_id: int) -> Any:
    h = here()
    batch = _found(h, handover_id)
    if not services.may_manage(current_api_user(), batch):
        raise ApiError(403, "forbidden", "Only an administrator or the absent user's "
                                         "department head may see this handover.")
    return jsonify(handover_json(batch, h))


@bp.post("/handovers/<int:handover_id>/apply")
@api_auth("admin", "head")
def apply_handover(handover_id: int) -> Any:
    """Confirm a previewed handover: its items start moving (202; poll GET for progress)."""
    h = here()
    batch = _found(h, handover_id)
    start = _start_field()
    services.apply_handover(batch=batch, actor=h.actor, confirmed=True, now=h.now,
                            start=start)
    response = jsonify(handover_json(batch, h))
    response.status_code = 202
    return response


@bp.post("/handovers/<int:handover_id>/restore")
@api_auth("admin", "head")
def restore_handover(handover_id: int) -> Any:
    """Give back every item still with the deputy (202; poll GET for progress)."""
    h = here()
    batch = _found(h, handover_id)
    try:
        services.restore_handover(batch=batch, actor=h.actor, client=h.client,
                                  now=h.now)
    except PortalError as exc:
        raise portal_unavailable(exc) from None
    response = jsonify(handover_json(batch, h))
    response.status_code = 202
    return response


@bp.post("/handovers/<int:handover_id>/retry")
@api_auth("admin", "head")
def retry_handover(handover_id: int) -> Any:
    """Try again the items the handover or its give-back failed to move (202; poll GET)."""
    h = here()
    batch = _found(h, handover_id)
    services.retry_handover(batch=batch, actor=h.actor)
    response = jsonify(handover_json(batch, h))
    response.status_code = 202
    return response

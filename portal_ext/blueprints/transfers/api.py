"""``/api/v1/transfers`` on the API blueprint, shaped like ``/api/v1/handovers`` (bearer
tokens of administrators; errors ``{"error": {"code", "message", "field"}}``; messages in
English).

``POST /transfers`` previews a dismissed user's transfer (``user_id``, ``strategy``,
``successors``; nothing moves), ``POST /transfers/<id>/apply`` starts it, ``GET
/transfers/<id>`` tells the state, counts per type and per successor, and progress, ``POST
/transfers/<id>/undo`` gives everything back within the undo period. A refused request changes
nothing: 422 ``validation`` naming the field, 404 ``not_found``, 409 ``conflict`` (a transfer of
the user is already in progress, or the transfer is not in a state for this) or ``expired``
(the undo period is over).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, url_for

from portal_ext.absences.times import iso_local
from portal_ext.auth.api_auth import ApiError, api_auth
from portal_ext.blueprints.api import bp
from portal_ext.blueprints.api.params import body_id, json_object
from portal_ext.blueprints.api.refusals import portal_unavailable
from portal_ext.context import Context, here
from portal_ext.extensions import db
from portal_ext.handover.report import build_report
from portal_ext.moves.models import MoveBatch
from portal_ext.portal.errors import PortalError
from portal_ext.transfers import report, services
from portal_ext.transfers.strategies import ENTITY_TYPES, STRATEGIES
from portal_ext.transfers.successors import department_exists

FIELDS = ("user_id", "strategy", "successors", "department_id", "types", "include_closed")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation", message, field)


def _user_id(value: Any, field: str) -> int:
    return body_id(value, field, what="a portal user id")


def transfer_body(batch: MoveBatch, h: Context) -> dict[str, Any]:
    body = report.transfer_json(batch, now=h.now, days=services.undo_days(current_app.config),
                                iso=lambda t: iso_local(t, h.tz))
    body["links"] = {"self": url_for("api.get_transfer", transfer_id=batch.id),
                     "page": url_for("transfers.show", batch_id=batch.id)}
    body["problems"] = [item.as_dict() for item in
                        build_report(batch, h.links, names=h.names()).problems]
    return body


def _input(portal_id: int) -> services.TransferInput:
    body = json_object(FIELDS)
    if "user_id" not in body:
        raise _invalid("user_id", "'user_id' is required.")
    strategy = body.get("strategy")
    if strategy not in STRATEGIES:
        raise _invalid("strategy", "'strategy' must be one of: " + ", ".join(STRATEGIES) + ".")
    data = services.TransferInput(user_id=_user_id(body["user_id"], "user_id"),
                                  strategy=str(strategy))
    successors = body.get("successors", [])
    if isinstance(successors, dict):
        data.per_type = {str(k): _user_id(v, "successors") for k, v in successors.items()}
    elif isinstance(successors, list):
        data.successors = [_user_id(v, "successors") for v in successors]
    else:
        data.successors = [_user_id(successors, "successors")]
    if body.get("department_id") is not None:
        department_id = body_id(body["department_id"], "department_id", what="a department id")
        if strategy != "spread":
            raise _invalid("department_id", "'department_id' applies to the spread strategy "
                                            "only.")
        if not department_exists(portal_id, department_id):
            raise _invalid("department_id", f"There is no department {department_id}.")
        data.department_id = department_id
    types = body.get("types")
    if types is not None and (not isinstance(types, list)
                              or not all(isinstance(t, str) for t in types)):
        raise _invalid("types", "'types' must be a list of: " + ", ".join(ENTITY_TYPES) + ".")
    data.types = types
    if not isinstance(body.get("include_closed", True), bool):
        raise _invalid("include_closed", "'include_closed' must be true or false.")
    data.include_closed = body.get("include_closed", True)
    return data


def _found(h: Context, transfer_id: int) -> MoveBatch:
    batch = report.transfer_of(h.portal.id, transfer_id)
    if batch is None:
        raise ApiError(404, "not_found", f"There is no transfer {transfer_id}.")
    return batch


@bp.post("/transfers")
@api_auth("admin")
def create_transfer() -> Any:
    """Preview a transfer of a user's items: who would get what, per type and successor."""
    h = here()
    data = _input(h.portal.id)
    try:
        batch = services.create_transfer(portal=h.portal, client=h.client,
                                         actor=h.actor,
                                         data=data, now=h.now)
    except PortalError as exc:
        raise portal_unavailable(exc) from None
    response = jsonify(transfer_body(batch, h))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_transfer", transfer_id=batch.id)
    return response


@bp.get("/transfers/<int:transfer_id>")
@api_auth("admin")
def get_transfer(transfer_id: int) -> Any:
    h = here()
    return jsonify(transfer_body(_found(h, transfer_id), h))


def _change(transfer_id: int, action: str) -> Any:
    h = here()
    batch = _found(h, transfer_id)
    try:
        if action == "apply":
            services.apply_transfer(portal=h.portal, client=h.client, batch=batch,
                                    actor=h.actor, now=h.now)
        elif action == "retry":
            services.retry_transfer(batch=batch)
        else:
            services.undo_transfer(portal=h.portal, batch=batch, actor=h.actor, now=h.now,
                                   days=services.undo_days(current_app.config))
    except PortalError as exc:
        raise portal_unavailable(exc) from None
    db.session.refresh(batch)
    response = jsonify(transfer_body(batch, h))
    response.status_code = 202
    return response


@bp.post("/transfers/<int:transfer_id>/apply")
@api_auth("admin")
def apply_transfer(transfer_id: int) -> Any:
    """Confirm a previewed transfer: its items start moving (202; poll GET for progress)."""
    return _change(transfer_id, "apply")


@bp.post("/transfers/<int:transfer_id>/undo")
@api_auth("admin")
def undo_transfer(transfer_id: int) -> Any:
    """Give back every item its successor still holds (202; poll GET for progress)."""
    return _change(transfer_id, "undo")


@bp.post("/transfers/<int:transfer_id>/retry")
@api_auth("admin")
def retry_transfer(transfer_id: int) -> Any:
    """Try again the items the transfer or its undo failed to move (202; poll GET)."""
    return _change(transfer_id, "retry")

"""The portal's automation on the web: the control plane's part (``/_sim/bizproc/...``,
``/_sim/apps/...``, under the control token like the rest of ``/_sim/``) and the portal's page
``/portal/automation`` (which robots sit on which stage, with their properties; the
applications' robots and installations; the latest runs).

Control plane (JSON; bad input 400 ``INVALID_ARG_VALUE`` naming the field, nothing changed):

- ``POST /_sim/apps/<client_id>/install`` ``{"handler": url, "user_id": 1}``: install the
  application (simulator.bizproc.install): its tokens are posted to ``handler`` as
  ``ONAPPINSTALL``; answers the handler's HTTP status.
- ``GET /_sim/bizproc/automation``: every placement; ``POST`` ``{"entity": "lead",
  "status_id": "IN_PROCESS", "code": ..., "client_id"?: ..., "properties": {...}}`` places a
  registered robot; ``DELETE /_sim/bizproc/automation/<id>`` removes one.
- ``GET /_sim/bizproc/runs``: the latest runs (event token, item, state, return values).
- ``POST /_sim/bizproc/flush``: wait until every robot call queued has been attempted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, render_template

from simulator import bizproc
from simulator.web import control, current_sim, json_response

bp = Blueprint("sim_bizproc", __name__, url_prefix="/_sim")
bp.before_request(control._guard)


def _bad(field: str, description: str) -> Response:
    return json_response({"error": "INVALID_ARG_VALUE", "error_description": description,
                          "field": field}, 400)


@bp.post("/apps/<client_id>/install")
def install(client_id: str) -> Response:
    body = control._body()
    control._only(body, ("handler", "user_id"))
    user_id = control._int(body.get("user_id", 1), "user_id", minimum=1)
    try:
        answer = bizproc.install_app(current_sim(), client_id, body.get("handler", ""),
                                     user_id=user_id)
    except bizproc.InstallError as error:
        return _bad(error.field, error.description)
    return json_response({"result": answer})


@bp.get("/bizproc/automation")
def automation_list() -> Response:
    return json_response({"result": bizproc.placements(current_sim())})


@bp.post("/bizproc/automation")
def automation_add() -> Response:
    body = control._body()
    control._only(body, ("entity", "status_id", "code", "client_id", "properties"))
    if not isinstance(body.get("code"), str) or not body.get("code"):
        return _bad("code", "code must name a registered robot")
    try:
        placed = bizproc.place_robot(current_sim(), entity=str(body.get("entity") or ""),
                                     status_id=str(body.get("status_id") or ""), code=body["code"],
                                     client_id=body.get("client_id"),
                                     properties=body.get("properties"))
    except bizproc.PlacementError as error:
        return _bad(error.field, error.description)
    return json_response({"result": placed})


@bp.delete("/bizproc/automation/<int:placement_id>")
def automation_delete(placement_id: int) -> Response:
    if not bizproc.remove_placement(current_sim(), placement_id):
        return json_response({"error": "NOT_FOUND", "error_description": "No such placement"},
                             404)
    return json_response({"result": True})


@bp.get("/bizproc/runs")
def run_list() -> Response:
    return json_response({"result": [
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in run.items()}
        for run in bizproc.runs(current_sim())]})


@bp.post("/bizproc/flush")
def flush() -> Response:
    return json_response({"result": bizproc.flush(current_sim(), 30)})


_PAGES: list[str] = []


def add_page(portal_bp: Blueprint) -> None:
    """The portal's automation page, on the portal pages' blueprint (before it is
    registered); once."""
    if _PAGES:
        return
    _PAGES.append(portal_bp.name)

    @portal_bp.get("/automation")
    def automation() -> Any:
        sim = current_sim()
        placed = bizproc.placements(sim)
        stages: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in placed:
            stages.setdefault((row["entity"], row["status_id"]), []).append(row)
        return render_template("portal/automation.html", stages=stages,
                               robots=bizproc.registered_robots(sim),
                               installs=bizproc.installations(sim), runs=bizproc.runs(sim, 50),
                               section="automation")

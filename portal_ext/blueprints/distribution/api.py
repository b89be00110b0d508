"""Lead distribution on the API blueprint (bearer tokens; errors ``{"error": {"code",
"message", "field"}}``; messages in English).

- ``GET/PUT /service-lines`` (admin): ``{"lines": [...]}``; ``PUT`` replaces the list.
- ``GET/PUT /distribution/settings`` (admin).
- ``POST /visit-reports`` (admin, the lead's field representative, a head of their
  department): 202 with the queued report; the same lead again: 200 with the first report.
- ``GET /visit-reports/<id>`` (admin, its author and representative, a head of their
  department or of a department it picked from).
- ``GET /distribution/decisions?department=&manager=&since=`` (admin; a head: their
  departments' decisions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dateutil.parser import isoparse
from flask import jsonify, request, url_for

from portal_ext.auth.api_auth import ApiError, api_auth
from portal_ext.blueprints.api import bp
from portal_ext.blueprints.api.params import body_id, id_param, json_object, parse_query
from portal_ext.blueprints.api.refusals import portal_unavailable
from portal_ext.context import here
from portal_ext.distribution import services
from portal_ext.distribution.models import VisitReport
from portal_ext.portal.errors import PortalError

REPORT_FIELDS = ("lead_id", "lines", "comment", "visited_at", "client")
DECISIONS_QUERY = (id_param("department", "Decisions for this portal department."),
                   id_param("manager", "Decisions that picked this portal user."))


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation", message, field)


@bp.get("/service-lines")
@api_auth("admin")
def list_service_lines() -> Any:
    h = here()
    return jsonify({"lines": [services.line_json(line) for line in services.lines(h.portal.id)]})


@bp.put("/service-lines")
@api_auth("admin")
def replace_service_lines() -> Any:
    h = here()
    body = json_object(("lines",))
    if "lines" not in body:
        raise _invalid("lines", "'lines' is required: the whole list of service lines.")
    try:
        kept = services.replace_lines(portal=h.portal, client=h.client, items=body["lines"])
    except PortalError as exc:
        raise portal_unavailable(exc) from None
    return jsonify({"lines": [services.line_json(line) for line in kept]})


@bp.get("/distribution/settings")
@api_auth("admin")
def get_distribution_settings() -> Any:
    return jsonify(services.settings_of(here().portal.id))


@bp.put("/distribution/settings")
@api_auth("admin")
def put_distribution_settings() -> Any:
    h = here()
    body = json_object(tuple(services.DEFAULTS))
    return jsonify(services.save_settings(portal=h.portal, actor=h.actor, body=body, now=h.now))


def _report_input() -> services.ReportInput:
    body = json_object(REPORT_FIELDS)
    if "lead_id" not in body:
        raise _invalid("lead_id", "'lead_id' is required.")
    lead_id = body_id(body["lead_id"], "lead_id", what="a lead id")
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        raise _invalid("lines", "'lines' must list the ids of the service lines ticked "
                                "(at least one).")
    line_ids = [body_id(v, "lines", what="a service line id") for v in lines]
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 5000:
        raise _invalid("comment", "'comment' must be text of up to 5000 characters.")
    visited_at = None
    if body.get("visited_at") is not None:
        value = body["visited_at"]
        try:
            visited_at = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            visited_at = None
        if visited_at is None:
            raise _invalid("visited_at", "'visited_at' must be an ISO 8601 date or date-time.")
        if visited_at.tzinfo is not None:
            from datetime import UTC

            visited_at = visited_at.astimezone(UTC).replace(tzinfo=None)
    client = body.get("client")
    if client is not None:
        if not isinstance(client, dict):
            raise _invalid("client", "'client' must be an object: company, contact, phone, "
                                     "email.")
        for key, value in client.items():
            if key not in services.CLIENT_FIELDS:
                raise _invalid(f"client.{key}", "Unknown field: send company, contact, phone "
                                                "or email.")
            if not isinstance(value, str) or len(value) > 255:
                raise _invalid(f"client.{key}", f"'client.{key}' must be text of up to 255 "
                                                "characters.")
    return services.ReportInput(lead_id=lead_id, line_ids=line_ids, comment=comment,
                                visited_at=visited_at, client=client)


def report_body(report: VisitReport) -> dict[str, Any]:
    body = services.report_json(report)
    body["links"] = {"self": url_for("api.get_visit_report", report_id=report.id),
                     "page": url_for("distribution.show_report", report_id=report.id)}
    return body


@bp.post("/visit-reports")
@api_auth()
def create_visit_report() -> Any:
    """File a visit report: its run is queued (202); a lead already reported: 200."""
    h = here()
    data = _report_input()
    try:
        report, created = services.submit_report(portal=h.portal, client=h.client,
                                                 actor=h.actor, data=data, now=h.now)
    except PortalError as exc:
        raise portal_unavailable(exc) from None
    response = jsonify(report_body(report))
    response.status_code = 202 if created else 200
    response.headers["Location"] = url_for("api.get_visit_report", report_id=report.id)
    return response


@bp.get("/visit-reports/<int:report_id>")
@api_auth()
def get_visit_report(report_id: int) -> Any:
    h = here()
    report = services.report_of(h.portal.id, report_id)
    if report is None or not services.may_see(h.actor, report):
        raise ApiError(404, "not_found", f"There is no visit report {report_id}.")
    return jsonify(report_body(report))


@bp.get("/distribution/decisions")
@api_auth("admin", "head")
def list_distribution_decisions() -> Any:
    h = here()
    query = parse_query(DECISIONS_QUERY, {k: v for k, v in request.args.items()
                                          if k != "since"})
    since = None
    if request.args.get("since"):
        try:
            since = isoparse(request.args["since"])
        except (ValueError, OverflowError):
            raise ApiError(422, "invalid_parameter", "'since' must be an ISO 8601 date or "
                                                     "date-time.", "since") from None
        if since.tzinfo is not None:
            from datetime import UTC

            since = since.astimezone(UTC).replace(tzinfo=None)
    # A head sees the decisions of the departments they head (and their sub-departments).
    own = None if h.actor is None or h.actor.role == "admin" else services.overseen(
        h.portal.id, h.actor)
    return jsonify({"items": services.find_decisions(
        h.portal.id, department=query.get("department"), manager=query.get("manager"),
        since=since, departments=own)})

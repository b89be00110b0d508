"""``/api/v1/cadence`` on the API blueprint (bearer tokens; errors ``{"error": {"code",
"message", "field"}}``).

- ``GET/PUT /cadence/settings`` (administrators): the category field and its mapping, the
  intervals, what counts as a contact. A refused PUT changes nothing (422 naming the field).
- ``POST /cadence/resync`` (administrators) runs the full resync; ``GET /cadence/resync`` its
  progress.
- ``POST /cadence/plan-call`` (``company_id``, ``when``): a planned call on a company the
  caller sees, with the company's (or its main contact's) phone; 422 naming the field for an
  unknown company, a time not in the future, or no phone at all.
- ``GET /cadence/report`` and ``/cadence/report.csv`` (everyone, each seeing what their role
  may: their own companies, their department's, all), ``GET /cadence/load``.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from flask import Response, jsonify

from portal_ext.absences.times import iso_local
from portal_ext.auth.api_auth import ApiError, api_auth
from portal_ext.blueprints.api import bp
from portal_ext.blueprints.api.params import (
    PAGING,
    QueryParam,
    body_id,
    json_object,
    parse_query,
)
from portal_ext.blueprints.api.refusals import portal_unavailable
from portal_ext.cadence import report, rules, services
from portal_ext.cadence.models import CadenceCompany
from portal_ext.context import Context, here
from portal_ext.portal.clock import parse_portal_time
from portal_ext.portal.errors import PortalError
from portal_ext.request_bounds import MAX_ID

SETTINGS_FIELDS = ("category_field", "category_map", "intervals", "contact", "digest_hour")
FILTERS: tuple[QueryParam, ...] = (
    QueryParam("responsible", "integer", "Only this responsible person's companies.",
               minimum=1, maximum=MAX_ID),
    QueryParam("department", "integer", "Only companies of people in this department.",
               minimum=1, maximum=MAX_ID),
    QueryParam("category", "string", "A, B, C, or none (companies without a category).",
               enum=(*rules.CATEGORIES, "none")),
    QueryParam("state", "string", "overdue, warning, ok, no_category, not_overdue (ok and "
               "warning) or all.", enum=services.REPORT_STATES, default="all"),
    QueryParam("q", "string", "Search in the company's title."),
    QueryParam("sort", "string", "A column, '-' first for descending.",
               enum=tuple(s for k in services.SORTS for s in (k, "-" + k)), default="due_at"),
)


def settings_json(settings: services.Settings) -> dict[str, Any]:
    return settings.as_dict()


@bp.get("/cadence/settings")
@api_auth("admin")
def get_cadence_settings() -> Any:
    return jsonify(settings_json(services.settings_of(here().portal.id)))


@bp.put("/cadence/settings")
@api_auth("admin")
def put_cadence_settings() -> Any:
    h = here()
    body = json_object(SETTINGS_FIELDS)
    try:
        saved = services.save_settings(portal=h.portal, client=h.client, body=body,
                                       actor_id=h.actor.portal_user_id if h.actor else None,
                                       now=h.now)
    except PortalError as exc:
        raise portal_unavailable(exc) from None
    return jsonify(settings_json(saved))


def resync_json(h: Context) -> dict[str, Any]:
    body = services.progress(services.resync_state(h.portal.id), h.portal.id)
    for key in ("started_at", "finished_at"):
        body[key] = iso_local(body.get(key), h.tz)
    return body


@bp.get("/cadence/resync")
@api_auth("admin")
def get_cadence_resync() -> Any:
    return jsonify(resync_json(here()))


@bp.post("/cadence/resync")
@api_auth("admin")
def post_cadence_resync() -> Any:
    h = here()
    try:
        services.run_resync(portal=h.portal, client=h.client, tz=h.tz, now=h.now)
    except PortalError as exc:
        raise portal_unavailable(exc) from None
    return jsonify(resync_json(h))


def today_of(h: Context) -> date:
    return rules.local_date(h.now, h.tz)


def filters_of(values: dict[str, Any]) -> services.Filters:
    return services.Filters(responsible=values.get("responsible"),
                            department=values.get("department"),
                            category=values.get("category"), state=values["state"],
                            q=(values.get("q") or "").strip(), sort=values["sort"])


def rows_json(h: Context, rows: list[CadenceCompany], today: date) -> list[dict[str, Any]]:
    links = h.links

    def iso(moment: datetime | None) -> str | None:
        return iso_local(moment, h.tz)

    return [report.row_json(row, today=today, url=links.crm(rules.COMPANY, row.company_id),
                            iso=iso) for row in rows]


def _args() -> dict[str, Any]:
    from flask import request

    return dict(request.args)


@bp.get("/cadence/report")
@api_auth()
def get_cadence_report() -> Any:
    h = here()
    values = parse_query(FILTERS + PAGING, _args())
    today = today_of(h)
    page = services.report_page(portal_id=h.portal.id, viewer=h.actor,
                                filters=filters_of(values), today=today,
                                page=values["page"], per_page=values["per_page"])
    return jsonify({"items": rows_json(h, page.items, today), "page": page.page,
                    "per_page": page.per_page, "total": page.total, "pages": page.pages,
                    "today": today.isoformat()})


def report_csv(h: Context, values: dict[str, Any]) -> Response:
    today = today_of(h)
    rows = services.report_all(portal_id=h.portal.id, viewer=h.actor,
                               filters=filters_of(values), today=today)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(report.COLUMNS)
    for item in rows_json(h, rows, today):
        writer.writerow(report.csv_cells(item))
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=cadence.csv"})


@bp.get("/cadence/report.csv")
@api_auth()
def get_cadence_report_csv() -> Any:
    return report_csv(here(), parse_query(FILTERS, _args()))


@bp.get("/cadence/load")
@api_auth()
def get_cadence_load() -> Any:
    h = here()
    values = parse_query(FILTERS, _args())
    names = h.names()
    items = services.load(portal_id=h.portal.id, viewer=h.actor, filters=filters_of(values),
                          today=today_of(h))
    for item in items:
        item["name"] = names.get(item["responsible_id"] or 0, "")
    return jsonify({"items": items})


@bp.post("/cadence/plan-call")
@api_auth()
def post_cadence_plan_call() -> Any:
    """Plan a call on a company the caller sees, for its responsible, at ``when``."""
    h = here()
    body = json_object(("company_id", "when"))
    if "company_id" not in body:
        raise ApiError(422, "validation", "'company_id' is required.", "company_id")
    company_id = body_id(body["company_id"], "company_id", what="a company id")
    raw = body.get("when")
    when = parse_portal_time(raw) if isinstance(raw, str) else None
    if when is None:
        raise ApiError(422, "validation", "'when' must be a date and time (ISO 8601).", "when")
    try:
        planned = services.plan_call(portal=h.portal, client=h.client, viewer=h.actor,
                                     company_id=company_id, when=when, now=h.now)
    except PortalError as exc:
        raise portal_unavailable(exc) from None
    response = jsonify(planned)
    response.status_code = 201
    return response


__all__ = ["ApiError"]

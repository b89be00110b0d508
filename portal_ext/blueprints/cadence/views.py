"""The cadence report page: the filtered table (paging, CSV) and the share of overdue
companies per employee, each user seeing what their role may."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import login_required

from portal_ext.blueprints.api.params import PAGING, parse_query
from portal_ext.blueprints.cadence import bp
from portal_ext.blueprints.cadence.api import FILTERS, filters_of, report_csv, rows_json, today_of
from portal_ext.cadence import services
from portal_ext.context import here


@bp.get("/")
@login_required
def report() -> Any:
    h = here()
    args = {k: v for k, v in request.args.items() if v.strip()}
    values = parse_query(FILTERS + PAGING, args)
    filters = filters_of(values)
    today = today_of(h)
    page = services.report_page(portal_id=h.portal.id, viewer=h.actor, filters=filters,
                                today=today, page=values["page"], per_page=values["per_page"])
    load = services.load(portal_id=h.portal.id, viewer=h.actor, filters=filters, today=today)
    names = h.names()
    return render_template("cadence/report.html", page=page, rows=rows_json(h, page.items, today),
                           load=load, names=names, values=values, args=args)


@bp.get("/report.csv")
@login_required
def report_download() -> Any:
    h = here()
    args = {k: v for k, v in request.args.items() if v.strip() and k not in ("page", "per_page")}
    return report_csv(h, parse_query(FILTERS, args))

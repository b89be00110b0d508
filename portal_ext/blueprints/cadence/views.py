"""The cadence report page: the filtered table (paging, CSV) and the share of overdue
companies per employee, each user seeing what their role may."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from portal_ext import charts
from portal_ext.auth.roles import role_required
from portal_ext.blueprints import confirmation
from portal_ext.blueprints.api.params import parse_query
from portal_ext.blueprints.cadence import bp
from portal_ext.blueprints.cadence.api import FILTERS, report_csv, rows_json, today_of
from portal_ext.blueprints.cadence.forms import (
    PLAN_HOURS,
    PlanCallForm,
    ResyncForm,
    SettingsForm,
)
from portal_ext.blueprints.grid import (
    PERSON,
    Column,
    Filter,
    Grid,
    Search,
    person_choices,
    person_sort,
)
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.cadence import rules, services
from portal_ext.cadence.models import CadenceCompany
from portal_ext.context import Context, here
from portal_ext.directory.models import Department
from portal_ext.errors import Refusal
from portal_ext.extensions import db
from portal_ext.i18n import portal_time
from portal_ext.portal.errors import PortalError


def _grid(h: Context, today: date, names: dict[int, str]) -> Grid:
    visible = services.visible_responsibles(h.portal.id, h.actor)
    departments = list(db.session.scalars(select(Department).where(
        Department.portal_id == h.portal.id).order_by(Department.name)))
    states = {"overdue": _("Overdue"), "warning": _("Warning"), "ok": _("OK"),
              "not_overdue": _("Not overdue"), "no_category": _("No category")}
    row_states = {"overdue": _("Overdue"), "warning": _("Warning"), "ok": _("OK"),
                  "no_category": _("No category")}

    def person(uid: int | None) -> str:
        return "" if uid is None else names.get(uid, f"#{uid}")

    def standing(row: CadenceCompany) -> Any:
        return services.row_state(row, today)

    return Grid(
        columns=[
            Column("title", _("Company"), lambda r: r.title, sort=CadenceCompany.title),
            Column("category", _("Category"), lambda r: r.category or str(_("No category")),
                   sort=CadenceCompany.category),
            Column("last_call_at", _("Last call"), lambda r: r.last_call_at,
                   sort=CadenceCompany.last_call_at),
            Column("last_email_at", _("Last e-mail"), lambda r: r.last_email_at,
                   sort=CadenceCompany.last_email_at),
            Column("responsible", _("Responsible"), lambda r: person(r.responsible_id),
                   sort=person_sort(CadenceCompany.portal_id, CadenceCompany.responsible_id)),
            Column("due_at", _("Due"), lambda r: r.due_at, sort=CadenceCompany.due_at),
            Column("state", _("State"), lambda r: str(row_states[standing(r).state])),
            Column("days_overdue", _("Days overdue"), lambda r: standing(r).days_overdue)],
        filters=[
            Filter("state", _("State"), choices=list(states.items()),
                   where=lambda s: services.state_condition(s, today)),
            Filter("category", _("Category"),
                   choices=[*((c, c) for c in rules.CATEGORIES), ("none", _("No category"))],
                   where=services.category_condition),
            Filter("responsible", _("Responsible"), kind=PERSON,
                   choices=person_choices(names, visible),
                   where=lambda uid: CadenceCompany.responsible_id == uid),
            Filter("department", _("Department"),
                   choices=[(d.portal_department_id, d.name) for d in departments],
                   where=lambda d: services.department_condition(h.portal.id, int(d)))],
        search=Search(_("Company"), where=services.title_condition),
        default_sort="due_at",
        order=(CadenceCompany.company_id,), filename="cadence").read()


def _filters(grid: Grid) -> services.Filters:
    values = grid.values
    return services.Filters(responsible=values.get("responsible"),
                            department=values.get("department"),
                            category=values.get("category"),
                            state=values.get("state") or "all", q=grid.text)


def _charts(load: list[dict[str, Any]], names: dict[int, str]) -> Any:
    points = [charts.Point(str(e["responsible_id"] or 0),
                           names.get(e["responsible_id"] or 0, str(_("Nobody"))), e["total"])
              for e in load]
    return charts.bar_chart("cadence-load", str(_("Load per manager")),
                            str(_("Companies per manager, by category.")), points)


# Fills (portal_ext.charts): green stripes, amber cross-hatch, red lines, grey dots.
STATE_PATTERNS = {rules.OK: 1, rules.WARNING: 4, rules.OVERDUE: 3, rules.NO_CATEGORY: 2}


def _share_chart(load: list[dict[str, Any]], names: dict[int, str]) -> charts.Chart:
    """Companies per employee stacked ok / warning / overdue (and no category, when some
    company has none)."""
    labels = {rules.OK: _("OK"), rules.WARNING: _("Warning"), rules.OVERDUE: _("Overdue"),
              rules.NO_CATEGORY: _("No category")}
    shown = [s for s in (rules.OK, rules.WARNING, rules.OVERDUE, rules.NO_CATEGORY)
             if s != rules.NO_CATEGORY or any(e["states"][s] for e in load)]
    return charts.bar_chart(
        "cadence-chart", str(_("Share of overdue companies per employee")),
        str(_("Each employee's companies: in time, near their due date, and overdue.")),
        [charts.stacked(str(e["responsible_id"] or 0),
                        names.get(e["responsible_id"] or 0, str(_("Nobody"))),
                        [(s, str(labels[s]), e["states"][s]) for s in shown]) for e in load],
        patterns=STATE_PATTERNS)


@bp.get("/")
@login_required
def report() -> Any:
    h = here()
    today = today_of(h)
    names = h.names()
    grid = _grid(h, today, names)
    source = services.visible_query(h.portal.id, h.actor)
    if grid.csv:
        return grid.export(source)
    page = grid.paged(source)
    load = services.load(portal_id=h.portal.id, viewer=h.actor, filters=_filters(grid),
                         today=today)
    return render_template("cadence/report.html", grid=grid, page=page,
                           rows=rows_json(h, page.items, today), load=load, names=names,
                           load_chart=_charts(load, names),
                           share_chart=_share_chart(load, names), plan_form=PlanCallForm(),
                           hours=PLAN_HOURS)


@bp.get("/report.csv")
@login_required
def report_download() -> Any:
    h = here()
    args = {k: v for k, v in request.args.items() if v.strip() and k not in ("page", "per_page")}
    return report_csv(h, parse_query(FILTERS, args))


_FIELDS = {f"intervals.{c}.{part}": f"{c.lower()}_{name}" for c in "ABC"
           for part, name in (("count", "count"), ("unit", "unit"), ("warning_days", "warning"))}
_FIELDS.update({"contact.min_call_seconds": "min_call_seconds",
                "contact.email_direction": "email_direction", "contact.meetings": "meetings",
                "digest_hour": "digest_hour"})


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings() -> Any:
    h = here()
    current = services.settings_of(h.portal.id)
    form = SettingsForm()
    if request.method == "GET":
        form.category_field.data = current.category_field
        for letter, interval in current.intervals.items():
            form[f"{letter.lower()}_count"].data = interval.count
            form[f"{letter.lower()}_unit"].data = interval.unit
            form[f"{letter.lower()}_warning"].data = interval.warning_days
        form.min_call_seconds.data = current.options.min_call_seconds
        form.email_direction.data = current.options.email_direction
        form.meetings.data = current.options.meetings
        form.digest_hour.data = "" if current.digest_hour is None else str(current.digest_hour)
    if request.method == "POST" and form.validate_on_submit():
        body = {"category_field": (form.category_field.data or "").strip(),
                "intervals": {c: {"count": form[f"{c.lower()}_count"].data,
                                  "unit": form[f"{c.lower()}_unit"].data,
                                  "warning_days": form[f"{c.lower()}_warning"].data}
                              for c in "ABC"},
                "contact": {"min_call_seconds": form.min_call_seconds.data,
                            "email_direction": form.email_direction.data,
                            "meetings": bool(form.meetings.data)},
                "digest_hour": int(form.digest_hour.data) if form.digest_hour.data else None}
        try:
            services.save_settings(portal=h.portal, client=h.client, body=body,
                                   actor_id=h.actor.portal_user_id if h.actor else None,
                                   now=h.now)
        except Refusal as error:
            refuse_on_page(error, form, fields=_FIELDS)
        except PortalError as exc:
            flash(str(exc), "error")
        else:
            flash(_("The cadence settings were saved."), "success")
            return redirect(url_for("cadence.settings"))
        return _settings_page(form), 422
    if request.method == "POST":
        return _settings_page(form), 422
    return _settings_page(form)


def _settings_page(form: SettingsForm) -> str:
    h = here()
    resync = services.progress(services.resync_state(h.portal.id), h.portal.id)
    return render_template("cadence/settings.html", form=form, resync=resync,
                           resync_form=ResyncForm())


@bp.post("/resync")
@role_required("admin")
def resync() -> Any:
    """Rebuild the report from the portal now (the nightly resync does it too)."""
    h = here()
    if not ResyncForm().validate_on_submit():
        flash(_("The form has expired"), "error")
        return redirect(url_for("cadence.settings"))
    try:
        services.run_resync(portal=h.portal, client=h.client, tz=h.tz, now=h.now)
    except PortalError as exc:
        flash(str(exc), "error")
    else:
        flash(_("The report was rebuilt from the portal."), "success")
    return redirect(url_for("cadence.settings"))


# -- planning a call --------------------------------------------------------------------------
def _back() -> str:
    """Where to go after planning: the report view the request came from (its filters kept),
    only ever a page of the report."""
    wanted = str(request.values.get("back") or "")
    report = url_for("cadence.report")
    return wanted if wanted.startswith(report) and "//" not in wanted else report


def _plan(h: Context, row: CadenceCompany, hour: int) -> confirmation.Plan:
    when = services.tomorrow_at(h.now, h.tz, hour)
    who = h.names().get(row.responsible_id or 0, "")
    return confirmation.Plan(
        action=f"cadence.plan_call:{row.company_id}",
        heading=_("Plan a call to %(company)s?", company=row.title),
        lines=[_("A planned call on %(when)s for %(who)s.", when=portal_time(when), who=who),
               _("The portal gets a planned call activity on the company, with its phone "
                 "number (or its main contact's); nothing else changes.")],
        button=_("Confirm: plan the call"), cancel_url=_back(),
        binding={"company_id": row.company_id, "when": when.isoformat()},
        fields={"company_id": str(row.company_id), "hour": str(hour), "back": _back()},
        way_back=_("The planned call can be deleted in the portal."),
        title=_("Confirm planning a call"))


@bp.route("/plan-call", methods=["GET", "POST"])
@login_required
def plan_call() -> Any:
    """Plan a call on a company: the digest's link and the report's row come here. A GET only
    shows the question (a link never changes anything); the call is planned by the POST that
    carries the confirmation."""
    h = here()
    form = PlanCallForm(request.values, meta={"csrf": False} if request.method == "GET" else {})
    if not form.validate() or form.company_id.data is None:
        flash(_("There is no such company in the report."), "error")
        return redirect(_back())
    try:
        row = services.plannable(h.portal.id, h.actor, int(form.company_id.data))
    except Refusal as error:
        refuse_on_page(error)
        return redirect(_back())
    plan = _plan(h, row, int(form.hour.data or 10))
    if request.method == "GET" or not confirmation.confirmed(plan):
        return confirmation.ask(plan)
    try:
        services.plan_call(portal=h.portal, client=h.client, viewer=h.actor,
                           company_id=row.company_id,
                           when=services.tomorrow_at(h.now, h.tz, int(form.hour.data or 10)),
                           now=h.now)
    except Refusal as error:
        refuse_on_page(error)
        return redirect(_back())
    except PortalError as exc:
        flash(str(exc), "error")
        return redirect(_back())
    flash(_("A call to %(company)s is planned.", company=row.title), "success")
    return redirect(_back())

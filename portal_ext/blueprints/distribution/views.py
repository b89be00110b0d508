"""Lead distribution pages: the visit report form, the outcome of a report explaining each
pick in words, and the administrators' settings (strategies, main manager, fallback)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal_ext.auth.roles import role_required
from portal_ext.blueprints.distribution import bp
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.context import here
from portal_ext.distribution import rules, services
from portal_ext.distribution.models import VisitReport
from portal_ext.errors import Refusal
from portal_ext.portal.errors import PortalError

STRATEGY_LABELS = {rules.RANDOM: _l("random"), rules.ROUND_ROBIN: _l("in turn"),
                   rules.LEAST_LOADED: _l("least loaded"),
                   rules.PRIORITY: _l("the line's priority")}
STATE_LABELS = {"queued": _l("queued"), "running": _l("running"), "done": _l("done"),
                "failed": _l("failed")}


class ReportForm(FlaskForm):
    lead_id = IntegerField(_l("Lead"), validators=[DataRequired(), NumberRange(min=1)])
    lines = SelectMultipleField(_l("Service lines the client needs"), coerce=int,
                                widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput())
    comment = TextAreaField(_l("Comment"))
    visited_at = DateField(_l("Visit date"), validators=[Optional()])
    company = StringField(_l("Company"), validators=[Length(max=255)])
    contact = StringField(_l("Contact person"), validators=[Length(max=255)])
    phone = StringField(_l("Phone"), validators=[Length(max=255)])
    email = StringField(_l("E-mail"), validators=[Length(max=255)])


class SettingsForm(FlaskForm):
    default_strategy = SelectField(_l("How a department's manager is picked"),
                                   choices=[SelectChoice(s, STRATEGY_LABELS[s])
                                            for s in rules.STRATEGIES])
    default_quota = IntegerField(_l("Daily quota per manager (empty: none)"),
                                 validators=[Optional(), NumberRange(min=1)])
    main_strategy = SelectField(_l("How the main manager is picked"),
                                choices=[SelectChoice(s, STRATEGY_LABELS[s])
                                         for s in rules.MAIN_STRATEGIES])
    fallback_user_id = IntegerField(_l("Fallback person (portal user id)"),
                                    validators=[Optional(), NumberRange(min=1)])
    representative_ids = StringField(_l("Field representatives (user ids, comma separated)"))
    control_task_days = IntegerField(_l("Control task deadline, days"),
                                     validators=[DataRequired(), NumberRange(min=1)])


@bp.route("/reports/new", methods=["GET", "POST"])
@role_required("admin", "head", "employee")
def new_report() -> Any:
    h = here()
    if not services.may_report(h.portal.id, h.actor):
        abort(403)
    form = ReportForm()
    form.lines.choices = [SelectChoice(line.id, line.name)
                          for line in services.lines(h.portal.id)]
    lead_id = request.args.get("lead_id", "")
    if request.method == "GET" and lead_id.isdigit():
        if not services.may_file(h.portal.id, h.actor, int(lead_id)):
            abort(403)
        form.lead_id.data = int(lead_id)
        try:
            prefill = services.read_lead(h.client, int(lead_id))[1]
        except Refusal as error:
            refuse_on_page(error, form)
        except PortalError as exc:
            flash(_("The portal did not answer (%(error)s).", error=str(exc)), "error")
        else:
            for key in services.CLIENT_FIELDS:
                getattr(form, key).data = prefill[key]
    if form.validate_on_submit():
        visited = datetime.combine(form.visited_at.data, datetime.min.time()) \
            if form.visited_at.data else None
        data = services.ReportInput(
            lead_id=int(form.lead_id.data or 0), line_ids=list(form.lines.data or []),
            comment=form.comment.data or "", visited_at=visited,
            client={key: getattr(form, key).data or "" for key in services.CLIENT_FIELDS})
        try:
            report, created = services.submit_report(portal=h.portal, client=h.client,
                                                     actor=h.actor, data=data, now=h.now)
        except Refusal as error:
            refuse_on_page(error, form, fields={f"client.{key}": key
                                                for key in services.CLIENT_FIELDS})
        except PortalError as exc:
            flash(_("The portal did not answer (%(error)s); nothing was changed.",
                    error=str(exc)), "error")
        else:
            if not created:
                flash(_("This lead already has a visit report: here it is."), "info")
            return redirect(url_for("distribution.show_report", report_id=report.id))
    return render_template("distribution/new.html", form=form)


def explain(decision: dict[str, Any], names: dict[int, str]) -> list[str]:
    """A decision in words: who was chosen and why, and why others were skipped."""
    def name(uid: int | None) -> str:
        return names.get(int(uid or 0), f"#{uid}")

    chosen = decision.get("chosen_id")
    load = next((c["load"] for c in decision.get("candidates", []) + decision.get(
        "fallbacks", []) if c["user_id"] == chosen), 0)
    strategy = str(STRATEGY_LABELS.get(decision.get("strategy", ""), decision.get("strategy")))
    if decision.get("fallback") == rules.BY_HEAD:
        words = [_("%(name)s: the department's head, nobody in it was available",
                   name=name(chosen))]
    elif decision.get("fallback") == rules.BY_FALLBACK:
        words = [_("%(name)s: the fallback person, nobody in the department nor its head "
                   "was available", name=name(chosen))]
    else:
        words = [_("%(name)s: %(strategy)s, %(count)s open deals", name=name(chosen),
                   strategy=strategy, count=load)]
    for c in decision.get("candidates", []) + decision.get("fallbacks", []):
        if c.get("skipped") == rules.ABSENT:
            until = (c.get("absent_until") or "")[:10]
            words.append(_("%(name)s skipped: away until %(until)s", name=name(c["user_id"]),
                           until=until))
        elif c.get("skipped") == rules.DISMISSED:
            words.append(_("%(name)s skipped: dismissed", name=name(c["user_id"])))
        elif c.get("skipped") == rules.QUOTA:
            words.append(_("%(name)s skipped: daily quota reached (%(used)s)",
                           name=name(c["user_id"]), used=c.get("picked_today")))
    return words


@bp.get("/reports/<int:report_id>")
@role_required("admin", "head", "employee")
def show_report(report_id: int) -> Any:
    h = here()
    report = services.report_of(h.portal.id, report_id)
    if report is None or not services.may_see(h.actor, report):
        abort(404)
    names = h.names()
    lines = {line.id: line for line in services.lines(h.portal.id, retired=True)}
    rows = []
    for decision in report.decisions or []:
        line = lines.get(int(decision.get("line_id", 0)))
        rows.append({"line": line.name if line else "", "words": explain(decision, names),
                     "deal_id": (report.deals or {}).get(str(decision.get("line_id")))})
    main = names.get(int(report.main_manager_id or 0), "")
    author = names.get(int(report.author_id or 0), "")
    title = (_("Visit report on lead %(lead)s by %(author)s", lead=report.lead_id,
               author=author) if author else
             _("Visit report on lead %(lead)s", lead=report.lead_id))
    return render_template("distribution/show.html", report=report, rows=rows, main=main,
                           title=title,
                           state_label=STATE_LABELS.get(report.state, report.state),
                           main_strategy=STRATEGY_LABELS.get(
                               (report.main_decision or {}).get("strategy", ""), ""),
                           links=h.links)


@bp.post("/reports/<int:report_id>/retry")
@role_required("admin", "head", "employee")
def retry_report(report_id: int) -> Any:
    h = here()
    report: VisitReport | None = services.report_of(h.portal.id, report_id)
    if report is None or not services.may_see(h.actor, report):
        abort(404)
    form = FlaskForm()
    if form.validate_on_submit():
        try:
            services.retry_report(report)
        except Refusal as error:
            refuse_on_page(error)
    return redirect(url_for("distribution.show_report", report_id=report_id))


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings() -> Any:
    h = here()
    current = services.settings_of(h.portal.id)
    form = SettingsForm(data={**current, "representative_ids": ", ".join(
        str(i) for i in current["representative_ids"])} if request.method == "GET" else None)
    if form.validate_on_submit():
        raw = [p.strip() for p in (form.representative_ids.data or "").split(",") if p.strip()]
        if not all(p.isdigit() for p in raw):
            form.representative_ids.errors = [_("User ids separated by commas.")]
        else:
            try:
                services.save_settings(portal=h.portal, actor=h.actor, now=h.now, body={
                    "default_strategy": form.default_strategy.data,
                    "default_quota": form.default_quota.data,
                    "main_strategy": form.main_strategy.data,
                    "fallback_user_id": form.fallback_user_id.data,
                    "representative_ids": [int(p) for p in raw],
                    "control_task_days": form.control_task_days.data})
            except Refusal as error:
                refuse_on_page(error, form)
            else:
                flash(_("Settings saved."), "success")
                return redirect(url_for("distribution.settings"))
    return render_template("distribution/settings.html", form=form,
                           lines=services.lines(h.portal.id))


@bp.get("/report")
@role_required("admin", "head")
def report() -> Any:
    """Deals per manager and department over a period (``since``/``until``: dates)."""
    from datetime import date, timedelta

    from portal_ext.distribution.report import deals_per_manager

    h = here()
    try:
        since = date.fromisoformat(request.args["since"]) if request.args.get("since") else None
        until = date.fromisoformat(request.args["until"]) if request.args.get("until") else None
    except ValueError:
        abort(400)
    own = None if h.actor is None or h.actor.role == "admin" else services.overseen(
        h.portal.id, h.actor)
    rows = deals_per_manager(
        h.portal.id, departments=own,
        since=datetime.combine(since, datetime.min.time()) if since else None,
        until=datetime.combine(until, datetime.min.time()) + timedelta(days=1)
        if until else None)
    from portal_ext.charts import Point, bar_chart

    departments = {d.portal_department_id: d.name for d in services.departments(h.portal.id)}
    names = h.names()
    totals: dict[int, int] = {}
    for row in rows:
        totals[row.user_id] = totals.get(row.user_id, 0) + row.deals
    chart = bar_chart("distribution-per-manager", _("Deals per manager"),
                      _("How many deals each manager was given in the period."),
                      [Point(str(uid), names.get(uid, f"#{uid}"), n)
                       for uid, n in sorted(totals.items(), key=lambda e: (-e[1], e[0]))])
    return render_template("distribution/report.html", rows=rows, names=names,
                           departments=departments, since=since, until=until, chart=chart)

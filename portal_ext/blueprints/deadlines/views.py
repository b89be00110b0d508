"""The deadline guard's pages: the policies (administrators change them, heads read their
departments'), the deadline requests a person may see, the form to request a change, and a
request's page where its approvers approve or decline with buttons."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal_ext import charts
from portal_ext.auth.roles import role_required
from portal_ext.blueprints import confirmation
from portal_ext.blueprints.deadlines import bp
from portal_ext.blueprints.deadlines.forms import (
    MODE_LABELS,
    DecisionForm,
    EmptyForm,
    PolicyForm,
    RequestForm,
)
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.context import here
from portal_ext.deadlines import report, services
from portal_ext.deadlines.models import DEFAULT, DEPARTMENT, PENDING, ROBOTS
from portal_ext.directory.access import departments_of
from portal_ext.errors import Refusal
from portal_ext.portal.registration import current_portal

STATE_LABELS = {"pending": _l("pending"), "applied": _l("applied"), "approved": _l("approved"),
                "declined": _l("declined"), "escalated": _l("escalated"),
                "failed": _l("failed")}


def _scopes() -> list[SelectChoice]:
    return [SelectChoice(DEFAULT, _("The whole portal (default)")),
            SelectChoice(ROBOTS, _("Tasks made by stage robots")),
            *(SelectChoice(f"{DEPARTMENT}:{d.portal_department_id}", d.name)
              for d in departments_of(current_portal()))]


@bp.route("/deadlines/policies", methods=["GET", "POST"])
@role_required("head")
def policies() -> Any:
    form = PolicyForm()
    form.scope.choices = _scopes()
    is_admin = current_user.role == "admin"
    if request.method == "POST":
        if not is_admin:
            abort(403)
        if form.validate_on_submit():
            scope, _sep, department = str(form.scope.data).partition(":")
            body = {"mode": form.mode.data, "max_postponements": form.max_postponements.data,
                    "max_delay_days": form.max_delay_days.data,
                    "exempt_heads": bool(form.exempt_heads.data)}
            try:
                services.set_policy(here(), scope, body,
                                    department_id=int(department) if department else 0)
                flash(_("The deadline policy was saved."), "success")
                return redirect(url_for("deadlines.policies"))
            except Refusal as error:
                refuse_on_page(error, form)
    data = services.policies_json(current_portal(), current_user)
    status = 422 if request.method == "POST" else 200
    return render_template("deadlines/policies.html", form=form, data=data, can_manage=is_admin,
                           mode_labels=MODE_LABELS, delete_form=EmptyForm()), status


@bp.post("/deadlines/policies/departments/<int:department_id>/delete")
@role_required("admin")
def delete_policy(department_id: int) -> Any:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    name = next((d.name for d in departments_of(current_portal())
                 if d.portal_department_id == department_id), f"#{department_id}")
    plan = confirmation.Plan(
        action=f"deadlines.delete_policy:{department_id}",
        heading=_("Delete the deadline policy of %(department)s?", department=name),
        lines=[_("The tasks of %(department)s follow the portal's default policy again.",
                 department=name)],
        button=_("Confirm: delete the policy"),
        cancel_url=url_for("deadlines.policies"), binding={"department": department_id},
        danger=True, title=_("Confirm deleting the policy"))
    if not confirmation.confirmed(plan):
        return confirmation.ask(plan)
    try:
        services.delete_department_policy(here(), department_id)
        flash(_("The department follows the default policy again."), "success")
    except Refusal as error:
        refuse_on_page(error)
    return redirect(url_for("deadlines.policies"))


@bp.get("/deadlines/requests")
@role_required()
def requests() -> Any:
    h = here()
    assert h.actor is not None
    rows = services.list_requests(h.portal, h.actor)
    return render_template("deadlines/requests.html", rows=rows, names=h.names(),
                           state_labels=STATE_LABELS)


@bp.route("/deadlines/requests/new", methods=["GET", "POST"])
@role_required()
def new_request() -> Any:
    form = RequestForm()
    if request.method == "GET" and request.args.get("task", "").isdigit():
        form.task_id.data = int(request.args["task"])
    if request.method == "POST" and form.validate_on_submit():
        h = here()
        try:
            created = services.create_request(h, task_id=int(form.task_id.data or 0),
                                              new_deadline=form.new_deadline.data,
                                              reason=form.reason.data)
            if created.state == PENDING:
                flash(_("The request was sent for approval."), "success")
            else:
                flash(_("The deadline was moved."), "success")
            return redirect(url_for("deadlines.show_request", request_id=created.id))
        except Refusal as error:
            refuse_on_page(error, form)
    status = 422 if request.method == "POST" else 200
    return render_template("deadlines/request_form.html", form=form), status


def _visible(request_id: int) -> Any:
    h = here()
    assert h.actor is not None
    try:
        found = services.get_request(h.portal, request_id)
    except Refusal:
        abort(404)
    if not services.may_see_request(h.portal, h.actor, found):
        abort(404)
    return h, found


@bp.get("/deadlines/requests/<int:request_id>")
@role_required()
def show_request(request_id: int) -> Any:
    h, found = _visible(request_id)
    assert h.actor is not None
    can_decide = found.state == PENDING and h.actor.portal_user_id != found.requester_id and (
        h.actor.is_admin or h.actor.portal_user_id in (found.approver_ids or []))
    names = h.names()
    title = _("New deadline for “%(task)s”, asked by %(name)s", task=found.task_title,
              name=names.get(found.requester_id, f"#{found.requester_id}"))
    return render_template("deadlines/request.html", item=found, names=names, title=title,
                           state_labels=STATE_LABELS, can_decide=can_decide,
                           form=DecisionForm())


@bp.post("/deadlines/requests/<int:request_id>/<any(approve, decline):decision>")
@role_required()
def decide_request(request_id: int, decision: str) -> Any:
    h, found = _visible(request_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if decision == "approve":
            services.approve_request(h, found)
            flash(_("The request was approved and the deadline moved."), "success")
        else:
            services.decline_request(h, found, form.reason.data)
            flash(_("The request was declined."), "success")
    except Refusal as error:
        refuse_on_page(error)
    return redirect(url_for("deadlines.show_request", request_id=request_id))


def _report_lines() -> list[Any]:
    h = here()
    assert h.actor is not None
    department = request.args.get("department", "")
    return services.postponement_report(
        h.portal, h.actor, department=int(department) if department.isdigit() else None)


@bp.get("/deadlines/report")
@role_required()
def postponement_report() -> Any:
    departments = departments_of(current_portal())
    lines = _report_lines()
    chart = charts.bar_chart(
        "chart-postponements", _("Postponements per manager"),
        _("How many postponements of each manager's tasks went through."),
        [charts.Point(str(line.user_id), line.name, line.postponements) for line in lines])
    return render_template("deadlines/report.html", lines=lines, chart=chart,
                           departments=departments,
                           department=request.args.get("department", ""))


@bp.get("/deadlines/report.csv")
@role_required()
def postponement_report_csv() -> Any:
    return Response(report.as_csv(_report_lines()), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=postponements.csv"})

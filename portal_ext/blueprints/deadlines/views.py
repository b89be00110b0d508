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
from portal_ext.absences.times import to_local
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
from portal_ext.blueprints.grid import (
    DATE,
    PERSON,
    Column,
    Filter,
    Grid,
    Search,
    contains,
    person_choices,
)
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.context import here
from portal_ext.deadlines import report, services
from portal_ext.deadlines.models import (
    ACCEPTED,
    APPROVED,
    DECLINED,
    DEFAULT,
    DEPARTMENT,
    EXEMPT,
    PENDING,
    REVERTED,
    ROBOTS,
    VETOED,
)
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
    plan = _delete_policy_plan(department_id)
    if plan is not None and not confirmation.confirmed(plan):
        return confirmation.ask(plan)
    try:
        services.delete_department_policy(here(), department_id)
        flash(_("The department follows the default policy again."), "success")
    except Refusal as error:
        refuse_on_page(error)
    return redirect(url_for("deadlines.policies"))


def _delete_policy_plan(department_id: int) -> confirmation.Plan | None:
    """What dropping a department's policy does, in numbers (None: it has none; the service
    then refuses)."""
    data = services.policies_json(current_portal(), current_user)
    own = next((p for p in data["departments"] if p["department_id"] == department_id), None)
    if own is None:
        return None
    people = sum(1 for user in here().active_people()
                 if department_id in (user.department_ids or []))
    default = data["default"]["mode"]
    return confirmation.Plan(
        action=f"deadlines.delete_policy:{department_id}",
        heading=_("Drop the deadline policy of %(department)s?",
                  department=own["department_name"]),
        lines=[_("The tasks of %(n)s people of %(department)s follow the portal's default "
                 "policy (%(default)s) instead of their own (%(own)s).", n=people,
                 department=own["department_name"],
                 default=MODE_LABELS.get(default, default),
                 own=MODE_LABELS.get(own["mode"], own["mode"]))],
        button=_("Confirm: use the default policy"),
        cancel_url=url_for("deadlines.policies"),
        binding={"updated": own["updated_at"], "mode": own["mode"], "people": people},
        way_back=_("Set the department's policy again on this page."),
        title=_("Confirm dropping the department's policy"))


@bp.get("/deadlines/requests")
@role_required()
def requests() -> Any:
    """The requests the viewer may see, as a grid: search by task or person, filter by state,
    requester and creation day, sort, page, CSV."""
    h = here()
    assert h.actor is not None
    rows = services.list_requests(h.portal, h.actor)
    names = h.names()

    def person(user_id: int | None) -> str:
        return names.get(user_id or 0, f"#{user_id}")

    def day(value: Any) -> Any:
        return to_local(value, h.tz).date() if value else None

    grid = Grid(
        columns=[
            Column("id", "#", lambda r: r.id, sort=lambda r: r.id),
            Column("task", _("Task"), lambda r: r.task_title or str(r.task_id),
                   sort=lambda r: (r.task_title or "").casefold()),
            Column("requester", _("Requested by"), lambda r: person(r.requester_id),
                   sort=lambda r: person(r.requester_id).casefold()),
            Column("old", _("From"), lambda r: r.old_deadline, sort=lambda r: r.old_deadline),
            Column("new", _("To"), lambda r: r.new_deadline, sort=lambda r: r.new_deadline),
            Column("state", _("State"), lambda r: str(STATE_LABELS.get(r.state, r.state)),
                   sort=lambda r: r.state),
            Column("created", _("Requested"), lambda r: r.created_at,
                   sort=lambda r: r.created_at),
            Column("reason", _("Reason"), lambda r: r.reason)],
        filters=[
            Filter("state", _("State"), choices=list(STATE_LABELS.items()),
                   match=lambda r, state: r.state == state),
            Filter("user", _("Requested by"), kind=PERSON, choices=person_choices(
                names, {r.requester_id for r in rows}),
                match=lambda r, uid: r.requester_id == uid),
            Filter("from", _("From"), kind=DATE,
                   match=lambda r, when: day(r.created_at) >= when),
            Filter("to", _("To"), kind=DATE, not_before="from",
                   match=lambda r, when: day(r.created_at) <= when)],
        search=Search(_("Task or person"), match=lambda r, text: contains(
            (r.task_title, str(r.task_id), person(r.requester_id), r.reason), text)),
        filename="deadline-requests").read()
    return grid.respond(rows, "deadlines/requests.html", names=names,
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
    can_decide = services.is_open(found) and h.actor.portal_user_id != found.requester_id and (
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
        h, h.actor, department=int(department) if department.isdigit() else None)


OUTCOME_LABELS = {ACCEPTED: _l("Accepted"), APPROVED: _l("Approved"), EXEMPT: _l("Exempt"),
                  VETOED: _l("Vetoed"), REVERTED: _l("Reverted"), DECLINED: _l("Declined")}
# Fills (portal_ext.charts): blue solid, green stripes, grey dots, red lines, amber
# cross-hatch, purple stripes.
OUTCOME_PATTERNS = {ACCEPTED: 0, APPROVED: 1, EXEMPT: 2, VETOED: 3, REVERTED: 4, DECLINED: 5}


@bp.get("/deadlines/report")
@role_required()
def postponement_report() -> Any:
    departments = departments_of(current_portal())
    lines = _report_lines()
    outcomes = [o for o in report.CHART_OUTCOMES
                if o != DECLINED or any(line.attempts.get(o) for line in lines)]
    chart = charts.bar_chart(
        "chart-postponements", _("Postponements per manager"),
        _("Each manager's postponements by outcome: those that went through, and the attempts "
          "vetoed, reverted or declined."),
        [charts.stacked(str(line.user_id), line.name, [
            (outcome, str(OUTCOME_LABELS[outcome]), line.attempts.get(outcome, 0))
            for outcome in outcomes]) for line in lines if any(line.attempts.values())],
        patterns=OUTCOME_PATTERNS)
    return render_template("deadlines/report.html", lines=lines, chart=chart,
                           departments=departments,
                           department=request.args.get("department", ""))


@bp.get("/deadlines/report.csv")
@role_required()
def postponement_report_csv() -> Any:
    return Response(report.as_csv(_report_lines()), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=postponements.csv"})

"""Stage robot pages: the robots (a grid), the editor (validated against the portal before
saving, with a preview against a real item, the versions with one-click revert through the
confirmation, disable/enable), the runs per robot and per item, and the holidays added to the
robots' working time."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from portal_ext.auth.roles import role_required
from portal_ext.blueprints import confirmation
from portal_ext.blueprints.grid import Column, Filter, Grid, Search, contains
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.blueprints.robots import bp
from portal_ext.context import here
from portal_ext.deadlines.rules import MODES
from portal_ext.errors import Refusal
from portal_ext.portal.errors import PortalError
from portal_ext.robots import services
from portal_ext.robots.models import CLOSE, DEAL, KEEP, LEAD, OUTCOMES, RobotRun, StageRobot

ENTITY_LABELS = {LEAD: _l("Lead"), DEAL: _l("Deal")}
ON_LEAVE_LABELS = {KEEP: _l("keep the task"), CLOSE: _l("close the task")}
POLICY_LABELS = {"": _l("the robots' policy"), "free": _l("free"),
                 "reason_required": _l("a reason required"),
                 "approval_required": _l("approval required"), "locked": _l("locked")}
ACTION_LABELS = {"created": _l("created"), "updated": _l("changed"), "reverted": _l("reverted"),
                 "enabled": _l("enabled"), "disabled": _l("disabled"),
                 "deleted": _l("deleted")}
OUTCOME_LABELS = {"pending": _l("pending"), "created": _l("task created"),
                  "skipped": _l("skipped"), "failed": _l("failed"), "closed": _l("task closed")}


class RobotForm(FlaskForm):
    entity = SelectField(_l("Entity"), choices=[SelectChoice(LEAD, _l("Lead")),
                                                SelectChoice(DEAL, _l("Deal"))])
    category_id = IntegerField(_l("Deal pipeline (deals)"),
                               validators=[Optional(), NumberRange(min=0)])
    status_id = StringField(_l("Stage (status id)"))
    title = StringField(_l("Task title"))
    description = TextAreaField(_l("Task description"))
    responsible = SelectField(_l("Who gets the task"), default="responsible",
                              validate_choice=False)
    deadline_hours = IntegerField(_l("Deadline in working hours"),
                                  validators=[Optional()])
    deadline_days = IntegerField(_l("Deadline in working days"), validators=[Optional()])
    policy = SelectField(_l("Deadline policy"), choices=[SelectChoice(m, POLICY_LABELS[m])
                                                         for m in ("", *MODES)])
    auditors_head = BooleanField(_l("The responsible's head is an auditor"))
    auditors = StringField(_l("Other auditors (user ids, comma-separated)"))
    task_control = BooleanField(_l("The creator must accept the work"))
    checklist = TextAreaField(_l("Checklist (one item a line)"))
    on_leave = SelectField(_l("When the item leaves the stage first"),
                           choices=[SelectChoice(KEEP, ON_LEAVE_LABELS[KEEP]),
                                    SelectChoice(CLOSE, ON_LEAVE_LABELS[CLOSE])])
    enabled = BooleanField(_l("Enabled"), default=True)
    item_id = IntegerField(_l("Preview against the item (id)"),
                           validators=[Optional(), NumberRange(min=1)])

    def offer_people(self, people: list[tuple[int, str]]) -> None:
        self.responsible.choices = [
            SelectChoice("responsible", _("the item's responsible")),
            SelectChoice("head", _("the responsible's head")),
            *(SelectChoice(str(uid), name) for uid, name in people)]

    def body(self) -> dict[str, Any]:
        auditors: list[Any] = ["head"] if self.auditors_head.data else []
        auditors += [a.strip() for a in (self.auditors.data or "").split(",") if a.strip()]
        return {"entity": self.entity.data,
                "category_id": self.category_id.data if self.entity.data == DEAL else None,
                "status_id": (self.status_id.data or "").strip(),
                "title": self.title.data or "", "description": self.description.data or "",
                "responsible": (self.responsible.data or "").strip() or "responsible",
                "deadline_hours": self.deadline_hours.data,
                "deadline_days": self.deadline_days.data, "policy": self.policy.data or "",
                "auditors": [int(a) if a.isdigit() else a for a in auditors],
                "task_control": bool(self.task_control.data),
                "checklist": [line.strip() for line in (self.checklist.data or "").splitlines()
                              if line.strip()],
                "on_leave": self.on_leave.data, "enabled": bool(self.enabled.data)}

    def fill(self, robot: StageRobot) -> None:
        for name in ("entity", "category_id", "status_id", "title", "description",
                     "deadline_hours", "deadline_days", "policy",
                     "task_control", "on_leave", "enabled"):
            self[name].data = getattr(robot, name)
        self.auditors_head.data = "head" in (robot.auditors or [])
        self.auditors.data = ", ".join(str(a) for a in robot.auditors or [] if a != "head")
        self.checklist.data = "\n".join(robot.checklist or [])
        self.responsible.data = str(robot.responsible)


class HolidaysForm(FlaskForm):
    country = StringField(_l("Country code (e.g. RU)"))


class ActionForm(FlaskForm):
    pass


def _known_stages() -> dict[str, dict[str, str]]:
    h = here()
    try:
        found = {str(ENTITY_LABELS[LEAD]): services.stages(h, LEAD, None)}
        for category_id, name in services.pipelines(h).items():
            found[f"{ENTITY_LABELS[DEAL]} {category_id} ({name})"] = services.stages(
                h, DEAL, category_id)
        return found
    except PortalError:
        return {}


def _form() -> RobotForm:
    form = RobotForm()
    form.offer_people([(u.portal_user_id, u.full_name) for u in here().active_people()])
    return form


@bp.get("/")
@role_required("admin", "head")
def index() -> Any:
    h = here()
    if current_user.is_admin:
        services.check_all(h)
    grid = Grid(columns=[
        Column("id", "#", lambda r: r.id, sort=StageRobot.id),
        Column("entity", _("Entity"), lambda r: str(ENTITY_LABELS[r.entity]),
               sort=StageRobot.entity),
        Column("stage", _("Stage"), lambda r: r.status_id, sort=StageRobot.status_id),
        Column("title", _("Task title"), lambda r: r.title, sort=StageRobot.title),
        Column("deadline", _("Deadline"), lambda r: _deadline_text(r)),
        Column("policy", _("Deadline policy"),
               lambda r: str(POLICY_LABELS.get(r.policy, r.policy))),
        Column("state", _("State"), lambda r: _state_text(r)),
    ], filters=[Filter("entity", _("Entity"), choices=list(ENTITY_LABELS.items()),
                       where=lambda v: StageRobot.entity == v)],
        search=Search(_("Search by title or stage"),
                      where=lambda text: StageRobot.title.ilike(f"%{text}%")
                      | StageRobot.status_id.ilike(f"%{text}%")),
        order=(StageRobot.id.asc(),), filename="stage-robots").read()
    query = select(StageRobot).where(StageRobot.portal_id == h.portal.id)
    return grid.respond(query, "robots/index.html", state_text=_state_text,
                        deadline_text=_deadline_text, entity_labels=ENTITY_LABELS,
                        holidays=services.holidays_json(h.portal),
                        holidays_form=HolidaysForm(), can_manage=current_user.is_admin)


def _deadline_text(robot: StageRobot) -> str:
    if robot.deadline_days:
        return _("%(n)s working days", n=robot.deadline_days)
    return _("%(n)s working hours", n=robot.deadline_hours or 0)


def _state_text(robot: StageRobot) -> str:
    if robot.broken:
        return _("broken: %(why)s", why=robot.broken)
    return _("enabled") if robot.enabled else _("disabled")


def _editor(form: RobotForm, robot: StageRobot | None, preview: dict[str, Any] | None,
            status: int = 200) -> Any:
    history = services.versions(robot) if robot is not None else []
    labels = {name: str(form[name].label.text) for name in services.FIELDS if name in form}
    labels["auditors"] = str(form.auditors_head.label.text)
    stages_text = "; ".join(f"{where}: {', '.join(found)}"
                            for where, found in _known_stages().items())
    return render_template("robots/edit.html", form=form, robot=robot, preview=preview,
                           history=history, names=here().names(), stages_text=stages_text,
                           field_labels=labels, action_labels=ACTION_LABELS,
                           placeholders=services.rules.PLACEHOLDERS,
                           action_form=ActionForm(), can_manage=current_user.is_admin,
                           state_text=_state_text), status


def _preview(form: RobotForm) -> dict[str, Any] | None:
    if not form.item_id.data:
        form.item_id.errors = [*form.item_id.errors, _("Give a lead or deal id to preview.")]
        return None
    try:
        return services.preview(here(), form.body(), int(form.item_id.data),
                                language=str(get_locale()))
    except Refusal as error:
        refuse_on_page(error, form)
        return None


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def new() -> Any:
    form = _form()
    preview = None
    if request.method == "POST" and form.validate_on_submit():
        if request.form.get("action") == "preview":
            preview = _preview(form)
            return _editor(form, None, preview, 200 if preview else 422)
        try:
            robot = services.create_robot(here(), form.body())
            flash(_("The robot was saved."), "success")
            return redirect(url_for("robots.edit", robot_id=robot.id))
        except Refusal as error:
            refuse_on_page(error, form)
    return _editor(form, None, preview, 422 if request.method == "POST" else 200)


def _robot(robot_id: int) -> StageRobot:
    try:
        return services.get_robot(here().portal, robot_id)
    except Refusal:
        abort(404)


@bp.route("/<int:robot_id>", methods=["GET", "POST"])
@role_required("admin", "head")
def edit(robot_id: int) -> Any:
    robot = _robot(robot_id)
    form = _form()
    preview = None
    if request.method == "GET":
        form.fill(robot)
        if request.args.get("item", "").isdigit():
            form.item_id.data = int(request.args["item"])
            try:
                preview = services.preview(here(), robot, form.item_id.data,
                                           language=str(get_locale()))
            except Refusal as error:
                refuse_on_page(error, form)
        return _editor(form, robot, preview)
    if not form.validate_on_submit():
        return _editor(form, robot, None, 422)
    if request.form.get("action") == "preview":
        preview = _preview(form)
        return _editor(form, robot, preview, 200 if preview else 422)
    if not current_user.is_admin:
        abort(403)
    try:
        services.update_robot(here(), robot, form.body())
        flash(_("The robot was saved."), "success")
        return redirect(url_for("robots.edit", robot_id=robot.id))
    except Refusal as error:
        refuse_on_page(error, form)
    return _editor(form, robot, None, 422)


@bp.post("/<int:robot_id>/toggle")
@role_required("admin")
def toggle(robot_id: int) -> Any:
    robot = _robot(robot_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.set_enabled(here(), robot, not robot.enabled)
        flash(_("The robot was enabled.") if robot.enabled else _("The robot was disabled."),
              "success")
    except Refusal as error:
        refuse_on_page(error)
    return redirect(url_for("robots.edit", robot_id=robot_id))


@bp.post("/<int:robot_id>/revert/<int:version>")
@role_required("admin")
def revert(robot_id: int, version: int) -> Any:
    robot = _robot(robot_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    plan = confirmation.Plan(
        action=f"robots.revert:{robot_id}:{version}",
        heading=_("Revert robot #%(id)s to version %(v)s?", id=robot_id, v=version),
        lines=[_("The robot's fields become those of version %(v)s; it is checked against "
                 "the portal first, and saved as version %(n)s.", v=version,
                 n=robot.version + 1)],
        button=_("Revert"), cancel_url=url_for("robots.edit", robot_id=robot_id),
        binding={"current": robot.version, "to": version},
        way_back=_("Revert to version %(v)s the same way.", v=robot.version))
    if not confirmation.confirmed(plan):
        return confirmation.ask(plan)
    try:
        services.revert_robot(here(), robot, version)
        flash(_("The robot is back to version %(v)s.", v=version), "success")
    except Refusal as error:
        refuse_on_page(error)
    return redirect(url_for("robots.edit", robot_id=robot_id))


@bp.post("/<int:robot_id>/delete")
@role_required("admin")
def delete(robot_id: int) -> Any:
    robot = _robot(robot_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    plan = confirmation.Plan(
        action=f"robots.delete:{robot_id}", heading=_("Delete robot #%(id)s?", id=robot_id),
        lines=[_("It creates no more tasks; the tasks it made stay.")], button=_("Delete"),
        cancel_url=url_for("robots.edit", robot_id=robot_id),
        binding={"version": robot.version}, danger=True)
    if not confirmation.confirmed(plan):
        return confirmation.ask(plan)
    services.delete_robot(here(), robot)
    flash(_("The robot was deleted."), "success")
    return redirect(url_for("robots.index"))


@bp.post("/holidays")
@role_required("admin")
def holidays() -> Any:
    form = HolidaysForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        found = services.add_country_holidays(here(), form.country.data)
        flash(_("Holidays of the robots' working time: %(days)s", days=found["year_holidays"]),
              "success")
    except Refusal as error:
        refuse_on_page(error)
    return redirect(url_for("robots.index"))


@bp.get("/runs")
@role_required("admin", "head")
def runs() -> Any:
    h = here()
    names = h.names()
    grid = Grid(columns=[
        Column("id", "#", lambda r: r.id, sort=RobotRun.id),
        Column("robot", _("Robot"), lambda r: r.robot_id, sort=RobotRun.robot_id),
        Column("item", _("Item"), lambda r: f"{ENTITY_LABELS[r.entity]} {r.item_id}",
               sort=RobotRun.item_id),
        Column("stage", _("Stage"), lambda r: r.stage_id),
        Column("entered", _("Entered"), lambda r: r.entered_at, sort=RobotRun.entered_at),
        Column("task", _("Task"), lambda r: r.task_id or ""),
        Column("responsible", _("Responsible"),
               lambda r: names.get(r.responsible_id or 0, "")),
        Column("deadline", _("Deadline"), lambda r: r.deadline, sort=RobotRun.deadline),
        Column("outcome", _("Outcome"), lambda r: str(OUTCOME_LABELS[r.outcome])),
        Column("error", _("Why"), lambda r: r.error or ""),
    ], filters=[
        Filter("robot", _("Robot"), choices=[(r.id, f"#{r.id} {r.title}")
                                             for r in services.list_robots(h.portal)],
               where=lambda v: RobotRun.robot_id == int(v)),
        Filter("outcome", _("Outcome"), choices=[(o, OUTCOME_LABELS[o]) for o in OUTCOMES],
               where=lambda v: RobotRun.outcome == v),
    ], search=Search(_("Search by item id"),
                     where=lambda text: RobotRun.item_id == (int(text) if text.isdigit()
                                                             else -1),
                     match=lambda r, text: contains([str(r.item_id)], text)),
        order=(RobotRun.id.desc(),), filename="robot-runs").read()
    query = select(RobotRun).where(RobotRun.portal_id == h.portal.id)
    item = request.args.get("item", "")
    if item.isdigit():
        query = query.where(RobotRun.item_id == int(item))
    return grid.respond(query, "robots/runs.html", item=item if item.isdigit() else None,
                        names=names, tz=h.tz, entity_labels=ENTITY_LABELS,
                        outcome_labels=OUTCOME_LABELS,
                        links=h.links)

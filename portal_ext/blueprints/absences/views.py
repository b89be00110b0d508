"""Absence pages: the department calendar, my absences, what I cover, the absence form and
the deputy's cover page. Views stay short: services decide, templates show."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, or_, select

from portal_ext.absences import access, services
from portal_ext.absences.calendar import month_grid
from portal_ext.absences.cover import build_cover_list
from portal_ext.absences.editors import editable_users, may_edit
from portal_ext.absences.models import ACTIVE, FINISHED, PLANNED, STATES, Absence
from portal_ext.absences.times import day_start, to_local
from portal_ext.auth.roles import role_required
from portal_ext.blueprints.absences import bp
from portal_ext.blueprints.absences.forms import KIND_LABELS, NOBODY, AbsenceForm, people_choices
from portal_ext.blueprints.grid import (
    DATE,
    PERSON,
    Column,
    Filter,
    Grid,
    Search,
    matching_people,
    person_choices,
    person_sort,
)
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.context import Context, here
from portal_ext.directory.access import departments_of, visible_users
from portal_ext.errors import Refusal
from portal_ext.extensions import db
from portal_ext.portal.clock import portal_zone
from portal_ext.portal.errors import PortalError

ALL_ROWS = 1_000_000  # every visible person: the grid pages the absences, not the people


def _labels() -> dict[str, Any]:
    return {"kind_labels": KIND_LABELS,
            "absence_state_labels": {PLANNED: _("planned"), ACTIVE: _("away now"),
                                     FINISHED: _("finished")}}


@bp.get("/")
@role_required()
def calendar() -> Any:
    h = here()
    departments = departments_of(h.portal)
    chosen = request.args.get("department", type=int)
    if chosen is None and "department" not in request.args and current_user.department_ids:
        chosen = current_user.department_ids[0]
    month = _month(request.args.get("month")) or to_local(h.now, h.tz).date()
    grid = month_grid(portal_id=h.portal.id, department_id=chosen, month=month, tz=h.tz)
    today = to_local(h.now, h.tz).date()
    return render_template("absences/calendar.html", grid=grid, departments=departments,
                           department=chosen, today=today, tz=h.tz, **_labels())


@bp.get("/mine")
@role_required()
def mine() -> Any:
    """The viewer's own absences: current and upcoming first, the soonest on top."""
    h = here()
    me = current_user.portal_user_id
    grid = _absence_grid(h, h.names(), people=None).read()
    query = select(Absence).where(Absence.portal_id == h.portal.id, Absence.user_id == me)
    return grid.respond(query, "absences/mine.html", names=h.names(), tz=h.tz,
                        show_people=current_user.role in ("admin", "head"), **_labels())


@bp.get("/people")
@role_required("admin", "head")
def people() -> Any:
    """The absences of the people the viewer may see (portal_ext.directory.access): everyone
    for an administrator, the departments they head for a head."""
    h = here()
    names = h.names()
    visible = None if current_user.is_admin else [
        u.portal_user_id for u in visible_users(portal=h.portal, viewer=current_user,
                                                per_page=ALL_ROWS).items]
    grid = _absence_grid(h, names, people=visible if visible is not None else list(names))
    grid.read()
    query = select(Absence).where(Absence.portal_id == h.portal.id)
    if visible is not None:
        query = query.where(Absence.user_id.in_(visible))
    return grid.respond(query, "absences/people.html", names=names, tz=h.tz, **_labels())


def _absence_grid(h: Context, names: dict[int, str], *, people: list[int] | None) -> Grid:
    """The grid of an absence list; ``people``: whom the person filter offers (None: the
    list is one person's own, no person column or filter)."""
    labels = _labels()
    states = labels["absence_state_labels"]

    def name(uid: int | None) -> str:
        return "" if uid is None else names.get(uid, f"#{uid}")

    person = [Column("person", _("Who"), lambda a: name(a.user_id),
                     sort=person_sort(Absence.portal_id, Absence.user_id))] if people else []
    columns = [
        *person,
        Column("start", _("From"), lambda a: a.first_day(h.tz), sort=Absence.start),
        Column("end", _("To"), lambda a: a.last_day(h.tz), sort=Absence.end),
        Column("kind", _("Kind"), lambda a: str(KIND_LABELS.get(a.kind, a.kind)),
               sort=Absence.kind),
        Column("deputy", _("Deputy"), lambda a: name(a.deputy_id),
               sort=person_sort(Absence.portal_id, Absence.deputy_id)),
        Column("state", _("State"), lambda a: str(states.get(a.state, a.state)),
               sort=Absence.state),
        Column("note", _("Note"), lambda a: a.note or "")]
    person_filter = [Filter("user", _("Person"), kind=PERSON,
                            choices=person_choices(names, people),
                            where=lambda uid: Absence.user_id == uid)] if people else []
    filters = [
        *person_filter,
        Filter("kind", _("Kind"), choices=list(KIND_LABELS.items()),
               where=lambda kind: Absence.kind == kind),
        Filter("state", _("State"), choices=[(s, states[s]) for s in STATES],
               where=lambda state: Absence.state == state),
        Filter("from", _("From"), kind=DATE,
               where=lambda day: Absence.end > day_start(day, h.tz)),
        Filter("to", _("To"), kind=DATE, not_before="from",
               where=lambda day: Absence.start < day_start(day + timedelta(days=1), h.tz))]

    def search(text: str) -> Any:
        found = matching_people(names, text)
        return or_(Absence.user_id.in_(found), Absence.deputy_id.in_(found)) if people \
            else Absence.deputy_id.in_(found)

    # Current and upcoming first, the soonest on top; then the past, the latest on top.
    over = Absence.end <= h.now
    order = (case((over, 1), else_=0), case((over, None), else_=Absence.start).asc(),
             case((over, Absence.start), else_=None).desc(), Absence.id)
    return Grid(columns=columns, filters=filters, order=order,
                search=Search(_("Person or deputy") if people else _("Deputy"), where=search),
                filename="absences")


@bp.get("/covering")
@role_required()
def covering() -> Any:
    """What the viewer covers now, and the absences naming them as deputy ahead."""
    h = here()
    me = current_user.portal_user_id
    now_covering = services.covered_by(portal_id=h.portal.id, deputy_id=me, at=h.now)
    ahead = list(db.session.scalars(services.find_absences(
        portal_id=h.portal.id, deputy_id=me, state=PLANNED)))
    return render_template("absences/covering.html", now_covering=now_covering,
                           ahead=list(reversed(ahead)), names=h.names(), tz=h.tz, **_labels())


@bp.route("/new", methods=["GET", "POST"])
@role_required()
def new() -> Any:
    h = here()
    form = AbsenceForm()
    _fill_choices(form, h)
    if request.method == "GET":
        form.user_id.data = request.args.get("user", current_user.portal_user_id, type=int)
        return render_template("absences/form.html", form=form, absence=None)
    wanted = request.form.get("user_id", type=int)
    if wanted is not None and not may_edit(current_user, wanted):
        abort(403)  # someone else's absence: refused, not merely "not a valid choice"
    if form.validate_on_submit():
        try:
            absence = services.create_absence(
                portal=h.portal, actor=h.actor, data=services.AbsenceInput(
                    **_form_values(form, h)), now=h.now, tz=h.tz)
        except Refusal as error:
            refuse_on_page(error, form)
        else:
            flash(_("The absence was recorded."), "success")
            return redirect(_list_of(absence))
    return render_template("absences/form.html", form=form, absence=None), 422


@bp.route("/<int:absence_id>/edit", methods=["GET", "POST"])
@role_required()
def edit(absence_id: int) -> Any:
    h = here()
    absence = _absence_or_404(h, absence_id)
    if not may_edit(current_user, absence.user_id):
        abort(403)
    form = AbsenceForm(obj=None if request.method == "POST" else absence)
    _fill_choices(form, h)
    if request.method == "GET":
        form.start.data, form.end.data = absence.first_day(h.tz), absence.last_day(h.tz)
        form.deputy_id.data = absence.deputy_id or NOBODY
        return render_template("absences/form.html", form=form, absence=absence)
    if form.validate_on_submit():
        values = _form_values(form, h, keep=absence)
        try:
            services.update_absence(portal=h.portal, actor=h.actor, absence=absence,
                                    changes=values, now=h.now, tz=h.tz)
        except Refusal as error:
            refuse_on_page(error, form)
        else:
            flash(_("The absence was saved."), "success")
            return redirect(_list_of(absence))
    return render_template("absences/form.html", form=form, absence=absence), 422


@bp.post("/<int:absence_id>/delete")
@role_required()
def delete(absence_id: int) -> Any:
    h = here()
    absence = _absence_or_404(h, absence_id)
    try:
        services.delete_absence(portal=h.portal, actor=h.actor, absence=absence,
                                withdraw=lambda a: access.withdraw(h.client, a), now=h.now)
    except Refusal as error:
        refuse_on_page(error)
        return redirect(url_for("absences.mine"))
    except PortalError:
        db.session.rollback()
        flash(_("The deputy's temporary access could not be withdrawn, so the absence was "
                "kept. Please try again later."), "error")
        return redirect(url_for("absences.mine"))
    flash(_("The absence was deleted."), "success")
    return redirect(url_for("absences.mine"))


@bp.get("/<int:absence_id>/cover")
@role_required()
def cover(absence_id: int) -> Any:
    h = here()
    absence = _absence_or_404(h, absence_id)
    moment = min(max(h.now, absence.start), absence.end - timedelta(seconds=1))
    covering_now = services.cover_for(portal_id=h.portal.id, user_id=absence.user_id,
                                      at=moment)
    viewer = current_user.portal_user_id
    if viewer not in (absence.deputy_id, covering_now and covering_now.user_id) \
            and not may_edit(current_user, absence.user_id):
        abort(403)
    try:
        items = build_cover_list(client=h.client, absence=absence, now=h.now, links=h.links)
        error = None
    except PortalError as exc:
        items, error = None, str(exc)
    names = h.names()
    chain = " → ".join(names.get(uid, f"#{uid}") for uid in covering_now.path) \
        if covering_now else ""
    return render_template("absences/cover.html", absence=absence, cover=covering_now,
                           chain=chain, items=items, error=error, names=names, tz=h.tz,
                           now=h.now, **_labels())


# -- helpers ------------------------------------------------------------------------------------
def _list_of(absence: Absence) -> str:
    """Where an absence is listed for the viewer: their own, or their people's."""
    endpoint = "absences.mine" if absence.user_id == current_user.portal_user_id \
        or current_user.role not in ("admin", "head") else "absences.people"
    return url_for(endpoint, _anchor=f"absence-{absence.id}")


def _absence_or_404(h: Context, absence_id: int) -> Absence:
    absence = services.absence_of(portal_id=h.portal.id, absence_id=absence_id)
    if absence is None:
        abort(404)
    return absence


def _month(value: str | None) -> date | None:
    try:
        return date.fromisoformat(f"{value}-01") if value else None
    except ValueError:
        return None


def _fill_choices(form: AbsenceForm, h: Context) -> None:
    form.user_id.choices = people_choices([(p.portal_user_id, p.full_name)
                                           for p in editable_users(current_user)])
    form.deputy_id.choices = people_choices(
        [(NOBODY, _("Standing deputy, else the department head"))]
        + [(p.portal_user_id, p.full_name) for p in h.active_people()])


def _form_values(form: AbsenceForm, h: Context, keep: Absence | None = None) -> dict[str, Any]:
    first, last = form.start.data, form.end.data
    assert first is not None and last is not None  # InputRequired
    start = day_start(first, h.tz)
    end = day_start(last + timedelta(days=1), h.tz)
    if keep is not None:  # unchanged days keep their exact times (an imported half day)
        start = keep.start if first == keep.first_day(h.tz) else start
        end = keep.end if last == keep.last_day(h.tz) else end
    return {"user_id": form.user_id.data, "start": start, "end": end, "kind": form.kind.data,
            "deputy_id": form.deputy_id.data or None, "note": form.note.data or "",
            "temporary_access": bool(form.temporary_access.data)}



# -- template filters ---------------------------------------------------------------------------
@bp.app_template_filter("absence_period")
def absence_period(absence: Absence) -> str:
    """``10 Dec 2026 – 24 Dec 2026`` in the portal's zone (the last day inclusive)."""
    tz = portal_zone()
    first, last = absence.first_day(tz), absence.last_day(tz)
    if first == last:
        return format_date(first, "d MMM yyyy")
    return f"{format_date(first, 'd MMM yyyy')} – {format_date(last, 'd MMM yyyy')}"

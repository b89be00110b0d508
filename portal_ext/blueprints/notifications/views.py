"""Team pages (everyone may look; administrators manage) and the delivery log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from portal_ext.absences.cover import PortalLinks
from portal_ext.absences.times import day_start
from portal_ext.auth.roles import role_required
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
from portal_ext.blueprints.notifications import bp
from portal_ext.blueprints.notifications.forms import TeamForm
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.context import here
from portal_ext.directory.models import PortalUser
from portal_ext.errors import Refusal
from portal_ext.extensions import db
from portal_ext.notifications import teams as team_service
from portal_ext.notifications.kinds import KIND_LABELS
from portal_ext.notifications.log import REASON_FILTERS, visible_deliveries, visible_people
from portal_ext.notifications.models import DELIVERY_STATES, Delivery, Team
from portal_ext.notifications.rules import DEPUTY, TEAM
from portal_ext.portal.clock import portal_zone
from portal_ext.portal.registration import current_portal

TYPE_IDS = {"LEAD": 1, "DEAL": 2, "CONTACT": 3, "COMPANY": 4, "QUOTE": 7, "SMART_INVOICE": 31}


def _labels() -> dict[str, Any]:
    return {"kind_labels": KIND_LABELS,
            "delivery_state_labels": {"pending": _("pending"), "sent": _("sent"),
                                      "failed": _("failed")},
            "reason_labels": {"deputy": _("deputy"), "team": _("team"),
                              "deputy+team": _("deputy and team")}}


def _people() -> list[PortalUser]:
    return list(db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == current_portal().id).order_by(
        PortalUser.last_name, PortalUser.name, PortalUser.id)))


def _names() -> dict[int, str]:
    return {p.portal_user_id: p.full_name for p in _people()}


@bp.get("/teams")
@role_required()
def teams() -> Any:
    return render_template("notifications/teams.html", teams=team_service.list_teams(
        current_portal()), names=_names(), can_manage=current_user.role == "admin",
        **_labels())


def _team_form(form: TeamForm, team: Team | None) -> Any:
    form.members.choices = [(p.portal_user_id, p.full_name) for p in _people()
                            if p.active or (team is not None
                                            and p.portal_user_id in team.member_ids)]
    if request.method == "POST" and form.validate_on_submit():
        values = {"name": form.name.data or "", "kinds": list(form.kinds.data or []),
                  "members": list(form.members.data or [])}
        h = here()
        try:
            if team is None:
                team = team_service.create_team(portal=h.portal, actor=h.actor, now=h.now,
                                                 **values)
                flash(_("The team “%(name)s” was created.", name=team.name), "success")
            else:
                team_service.update_team(portal=h.portal, actor=h.actor, team=team, now=h.now,
                                         **values)
                flash(_("The team “%(name)s” was saved.", name=team.name), "success")
            return redirect(url_for("notifications.teams"))
        except Refusal as error:
            refuse_on_page(error, form)
    status = 422 if request.method == "POST" else 200
    return render_template("notifications/team_form.html", form=form, team=team), status


@bp.route("/teams/new", methods=["GET", "POST"])
@role_required("admin")
def new_team() -> Any:
    return _team_form(TeamForm(), None)


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_team(team_id: int) -> Any:
    team = team_service.get_team(current_portal(), team_id)
    if team is None:
        abort(404)
    form = TeamForm(obj=None) if request.method == "POST" else TeamForm(
        name=team.name, kinds=list(team.kinds), members=team.member_ids)
    return _team_form(form, team)


@bp.post("/teams/<int:team_id>/delete")
@role_required("admin")
def delete_team(team_id: int) -> Any:
    portal = current_portal()
    team = team_service.get_team(portal, team_id)
    if team is None:
        abort(404)
    name = team.name
    team_service.delete_team(portal=portal, actor=current_user, team=team)
    flash(_("The team “%(name)s” was deleted.", name=name), "success")
    return redirect(url_for("notifications.teams"))


@bp.get("/deliveries")
@role_required()
def deliveries() -> Any:
    portal, tz = current_portal(), portal_zone()
    names = _names()
    labels = _labels()
    reasons, states = labels["reason_labels"], labels["delivery_state_labels"]

    def person(uid: int | None) -> str:
        return "" if uid is None else names.get(uid, f"#{uid}")

    def involves(uids: list[int]) -> Any:
        return or_(Delivery.recipient_portal_user_id.in_(uids),
                   Delivery.owner_portal_user_id.in_(uids))

    grid = Grid(
        columns=[
            Column("recorded", _("Recorded"), lambda d: d.created_at, sort=Delivery.created_at),
            Column("recipient", _("Recipient"), lambda d: person(d.recipient_portal_user_id),
                   sort=person_sort(Delivery.portal_id, Delivery.recipient_portal_user_id)),
            Column("owner", _("Notification of"), lambda d: person(d.owner_portal_user_id),
                   sort=person_sort(Delivery.portal_id, Delivery.owner_portal_user_id)),
            Column("kind", _("Kind"), lambda d: str(KIND_LABELS.get(d.kind, d.kind)),
                   sort=Delivery.kind),
            Column("reason", _("Why"), lambda d: str(reasons.get(d.reason, d.reason)),
                   sort=Delivery.reason),
            Column("state", _("State"), lambda d: str(states.get(d.state, d.state)),
                   sort=Delivery.state),
            Column("attempts", _("Attempts"), lambda d: d.attempts, sort=Delivery.attempts),
            Column("error", _("Error"), lambda d: d.error or "")],
        filters=[
            Filter("user", _("Person"), kind=PERSON, choices=person_choices(
                names, visible_people(portal, current_user)),
                where=lambda uid: involves([uid])),
            Filter("reason", _("Reason"), choices=[(r, reasons[r]) for r in REASON_FILTERS],
                   where=lambda r: Delivery.reason.in_((r, f"{DEPUTY}+{TEAM}"))),
            Filter("state", _("State"), choices=[(s, states[s]) for s in DELIVERY_STATES],
                   where=lambda s: Delivery.state == s),
            Filter("from", _("From"), kind=DATE,
                   where=lambda day: Delivery.created_at >= day_start(day, tz)),
            Filter("to", _("To"), kind=DATE, not_before="from",
                   where=lambda day: Delivery.created_at < day_start(
                       day + timedelta(days=1), tz))],
        search=Search(_("Recipient or owner"),
                      where=lambda text: involves(matching_people(names, text))),
        order=(Delivery.created_at.desc(), Delivery.id.desc()),
        filename="deliveries").read()
    links = PortalLinks(portal.base_url or "", simulated=portal.mode == "simulated")

    def entity_url(delivery: Any) -> str | None:
        if delivery.entity_id is None:
            return None
        if delivery.entity_type == "TASK":
            return links.task(delivery.entity_id, delivery.owner_portal_user_id)
        type_id = TYPE_IDS.get(delivery.entity_type or "")
        return links.crm(type_id, delivery.entity_id) if type_id else None

    return grid.respond(visible_deliveries(portal, current_user),
                        "notifications/deliveries.html", entity_url=entity_url, names=names,
                        links=links, **labels)

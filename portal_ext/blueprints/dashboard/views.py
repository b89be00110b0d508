"""Pages. Each view checks the role (``role_required``) and then what the viewer may see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal_ext.absences.times import day_start
from portal_ext.auth.models import ApiToken
from portal_ext.auth.roles import role_required
from portal_ext.auth.tokens import TokenError, issue_token, revoke_token, tokens_visible_to
from portal_ext.blueprints import listings
from portal_ext.blueprints.absences.forms import KIND_LABELS
from portal_ext.blueprints.auth.views import safe_next
from portal_ext.blueprints.dashboard import ROLE_LABELS, SOURCE_LABELS, STATE_LABELS, bp
from portal_ext.blueprints.dashboard.forms import TokenForm
from portal_ext.blueprints.grid import CODE, DATE, Column, Filter, Grid, Search, contains
from portal_ext.context import here
from portal_ext.directory import access
from portal_ext.directory.models import PortalUser
from portal_ext.events.models import STATES, InboxEvent
from portal_ext.extensions import db
from portal_ext.home import home_for
from portal_ext.i18n import LANGUAGES, event_words
from portal_ext.i18n import SESSION_KEY as LANGUAGE_KEY
from portal_ext.portal.clock import host_utcnow, portal_zone
from portal_ext.portal.registration import current_portal

ALL_ROWS = 1_000_000  # the grid filters and pages the visible people itself


@bp.get("/")
@role_required()
def index() -> Any:
    """The home page: what the viewer's roles need (portal_ext.home gathers it)."""
    portal = current_portal()
    inbox = None
    if current_user.role == "admin":
        inbox = {"counts": listings.inbox_counts(portal),
                 "latest": listings.latest_events(portal)}
    return render_template("dashboard/index.html", portal=portal,
                           overview=listings.overview(portal), inbox=inbox, inbox_states=STATES,
                           home=home_for(here(), role=current_user.role),
                           kind_labels=KIND_LABELS)


@bp.get("/users")
@role_required("admin", "head")
def users() -> Any:
    portal = current_portal()
    everyone = access.visible_users(portal=portal, viewer=current_user, page=1,
                                    per_page=ALL_ROWS)
    roles, names = everyone.extra["roles"], everyone.extra["departments"]

    def departments(user: PortalUser) -> str:
        return ", ".join(names.get(d, f"#{d}") for d in (user.department_ids or []))

    def status(user: PortalUser) -> str:
        return _("Active") if user.active else _("Dismissed")

    grid = Grid(
        columns=[
            Column("name", _("Full name"), lambda u: u.full_name,
                   sort=lambda u: (u.last_name.casefold(), u.name.casefold())),
            Column("email", _("E-mail"), lambda u: u.email, sort=lambda u: u.email),
            Column("position", _("Position"), lambda u: u.work_position,
                   sort=lambda u: u.work_position),
            Column("department", _("Department"), departments, sort=departments),
            Column("role", _("Role"), lambda u: str(ROLE_LABELS[roles[u.id]]),
                   sort=lambda u: str(ROLE_LABELS[roles[u.id]])),
            Column("status", _("Status"), status, sort=status)],
        filters=[
            Filter("department", _("Department"),
                   choices=[(d.portal_department_id, d.name)
                            for d in access.departments_of(portal)],
                   match=lambda u, d: d in (u.department_ids or [])),
            Filter("status", _("Status"),
                   choices=[("active", _("Active")), ("dismissed", _("Dismissed"))],
                   match=lambda u, v: bool(u.active) is (v == "active")),
            Filter("role", _("Role"), choices=list(ROLE_LABELS.items()),
                   match=lambda u, v: roles[u.id] == v)],
        search=Search(_("Name or e-mail"),
                      match=lambda u, text: contains((u.full_name, u.email), text)),
        filename="users").read()
    scope_note = (_("People of the departments you head.")
                  if current_user.role == "head" else None)
    return grid.respond(everyone.items, "dashboard/users.html", scope_note=scope_note,
                        roles=roles, department_names=departments)


@bp.get("/events")
@role_required("admin")
def events() -> Any:
    portal = current_portal()
    grid = Grid(
        columns=[
            Column("received", _("Received"), lambda e: e.received_at,
                   sort=InboxEvent.received_at),
            Column("event", _("Event"), lambda e: e.event_name, sort=InboxEvent.event_name),
            Column("object", _("Object"), lambda e: (
                f"{e.entity_type} #{e.entity_id}" if e.entity_type else ""),
                sort=(InboxEvent.entity_type, InboxEvent.entity_id)),
            Column("source", _("Source"), lambda e: str(SOURCE_LABELS.get(e.source, e.source)),
                   sort=InboxEvent.source),
            Column("state", _("State"), lambda e: str(STATE_LABELS.get(e.state, e.state)),
                   sort=InboxEvent.state),
            Column("attempts", _("Attempts"), lambda e: e.attempts, sort=InboxEvent.attempts),
            Column("error", _("Error"), lambda e: e.error or "")],
        filters=[
            Filter("event", _("Event"), kind=CODE,
                   choices=[(n, event_words(n)) for n in listings.event_names(portal)],
                   where=lambda v: InboxEvent.event_name == v),
            Filter("state", _("State"), choices=[(s, STATE_LABELS.get(s, s)) for s in STATES],
                   where=lambda v: InboxEvent.state == v),
            Filter("from", _("From"), kind=DATE,
                   where=lambda v: InboxEvent.received_at >= day_start(v, portal_zone())),
            Filter("to", _("To"), kind=DATE, not_before="from",
                   where=lambda v: InboxEvent.received_at < day_start(
                       v + timedelta(days=1), portal_zone()))],
        search=Search(_("Event, object or error"), where=lambda text: or_(
            func.lower(InboxEvent.event_name).contains(text),
            func.lower(func.coalesce(InboxEvent.entity_type, "")).contains(text),
            func.lower(func.coalesce(InboxEvent.error, "")).contains(text))),
        order=(InboxEvent.received_at.desc(), InboxEvent.id.desc()),
        filename="events").read()
    query = select(InboxEvent).where(InboxEvent.portal_id == portal.id)
    return grid.respond(query, "dashboard/events.html", inbox_states=STATES)


@bp.get("/tokens")
@role_required()
def tokens() -> Any:
    return _tokens_page(TokenForm())


@bp.post("/tokens", endpoint="issue_token")
@role_required()
def issue_token_view() -> Any:
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(form, status=422)
    try:
        plain = issue_token(portal=current_portal(), user=current_user, name=form.name.data or "",
                            now=host_utcnow())
    except TokenError as error:
        form.name.errors = [error.message]
        return _tokens_page(form, status=422)
    flash(_("The token was issued."), "success")
    # Rendered, not redirected: the plain token must not travel through the session cookie.
    response = make_response(_tokens_page(TokenForm(formdata=None), new_token=plain))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tokens/<int:token_id>/revoke", endpoint="revoke_token")
@role_required()
def revoke_token_view(token_id: int) -> Any:
    portal = current_portal()
    token = db.session.get(ApiToken, token_id)
    # Someone else's token is "not found" for a non-admin: its existence is not disclosed.
    if token is None or token.portal_id != portal.id or (
            token.user_id != current_user.id and current_user.role != "admin"):
        abort(404)
    try:
        revoked = revoke_token(portal=portal, token=token, actor=current_user, now=host_utcnow())
    except TokenError:
        abort(403)
    if revoked:
        flash(_("The token “%(name)s” was revoked.", name=token.name), "success")
    return redirect(url_for("dashboard.tokens"))


@bp.post("/language")
def set_language() -> Any:
    """Switch the language; works before logging in too (the form is CSRF-protected)."""
    language = request.form.get("lang", "")
    if language in LANGUAGES:
        session[LANGUAGE_KEY] = language
        if current_user.is_authenticated:  # what the extension writes to them speaks it too
            current_user.language = language
            db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("dashboard.index"))


def _tokens_page(form: TokenForm, *, new_token: str | None = None, status: int = 200) -> Any:
    portal = current_portal()
    rows = tokens_visible_to(portal=portal, actor=current_user)
    show_owner = current_user.role == "admin"
    owners: dict[int, PortalUser] = {}
    if show_owner:
        ids = {t.user_id for t in rows}
        owners = {u.id: u for u in db.session.scalars(
            db.select(PortalUser).where(PortalUser.id.in_(ids)))} if ids else {}
    return render_template("dashboard/tokens.html", form=form, tokens=rows, owners=owners,
                           show_owner=show_owner, new_token=new_token), status

"""Pages. Each view checks the role (``role_required``) and then what the viewer may see."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal_ext.auth.models import ApiToken
from portal_ext.auth.roles import role_required
from portal_ext.auth.tokens import TokenError, issue_token, revoke_token, tokens_visible_to
from portal_ext.blueprints import listings
from portal_ext.blueprints.auth.views import safe_next
from portal_ext.blueprints.dashboard import bp
from portal_ext.blueprints.dashboard.forms import TokenForm
from portal_ext.directory import access
from portal_ext.directory.models import PortalUser
from portal_ext.events.models import STATES
from portal_ext.extensions import db
from portal_ext.i18n import LANGUAGES
from portal_ext.i18n import SESSION_KEY as LANGUAGE_KEY
from portal_ext.portal.registration import current_portal, utcnow

PER_PAGE = 50


@bp.get("/")
@role_required()
def index() -> Any:
    portal = current_portal()
    inbox = None
    if current_user.role == "admin":
        inbox = {"counts": listings.inbox_counts(portal),
                 "latest": listings.latest_events(portal)}
    return render_template("dashboard/index.html", portal=portal,
                           overview=listings.overview(portal), inbox=inbox, inbox_states=STATES)


@bp.get("/users")
@role_required("admin", "head")
def users() -> Any:
    portal = current_portal()
    status = request.args.get("status") if request.args.get("status") in (
        "active", "dismissed") else None
    department = request.args.get("department", type=int)
    page = access.visible_users(
        portal=portal, viewer=current_user, department=department,
        active=None if status is None else status == "active",
        page=max(1, request.args.get("page", 1, type=int)), per_page=PER_PAGE)
    names = page.extra["departments"]
    filters = {"status": status, "department": department}
    scope_note = (_("People of the departments you head.")
                  if current_user.role == "head" else None)
    return render_template(
        "dashboard/users.html", page=page, filters=filters, scope_note=scope_note,
        filter_args={k: v for k, v in filters.items() if v is not None},
        departments=access.departments_of(portal), roles=page.extra["roles"],
        department_names=lambda user: ", ".join(
            names.get(d, f"#{d}") for d in (user.department_ids or [])))


@bp.get("/events")
@role_required("admin")
def events() -> Any:
    portal = current_portal()
    state = request.args.get("state") if request.args.get("state") in STATES else None
    known_names = listings.event_names(portal)
    event = request.args.get("event", "").upper() or None
    page = listings.inbox_events(portal=portal, state=state, event=event,
                                 page=max(1, request.args.get("page", 1, type=int)),
                                 per_page=PER_PAGE)
    filters = {"state": state, "event": event}
    return render_template("dashboard/events.html", page=page, filters=filters,
                           filter_args={k: v for k, v in filters.items() if v is not None},
                           inbox_states=STATES, event_names=known_names)


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
                            now=utcnow())
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
    if token.revoked_at is None:
        from portal_ext.blueprints import confirmation
        from portal_ext.i18n import portal_time

        plan = confirmation.Plan(
            action=f"dashboard.revoke_token:{token.id}",
            heading=_("Revoke the token “%(name)s”?", name=token.name),
            lines=[_("Every program that calls the API with it is refused from now on.")]
            + ([_("It was last used on %(when)s.", when=portal_time(token.last_used_at))]
               if token.last_used_at else [_("It has never been used.")]),
            button=_("Confirm: revoke the token"), cancel_url=url_for("dashboard.tokens"),
            binding={"revoked": None}, danger=True, title=_("Confirm revoking the token"))
        if not confirmation.confirmed(plan):
            return confirmation.ask(plan)
    try:
        revoked = revoke_token(portal=portal, token=token, actor=current_user, now=utcnow())
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

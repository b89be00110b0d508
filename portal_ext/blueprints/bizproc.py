"""The extension as a portal application, on the web.

Two addresses the portal posts to (form-urlencoded, PHP-style keys, like its event webhooks;
exempt from CSRF, each authenticating what it receives instead):

- ``POST /bizproc/install``: the ``ONAPPINSTALL`` event with the application's tokens in
  ``auth[...]`` (the install handler to give the portal). The tokens are kept once the portal
  confirms them (portal_ext.portal.application.install_from_event).
- ``POST /bizproc/robot``: a run of the robot "Create a guarded task" (the robot's
  ``HANDLER``): ``auth[application_token]`` must be the one the installation received
  (compared in constant time) before anything else is read; then ``document_id``,
  ``properties`` and ``event_token`` (portal_ext.robots.automation).

Their errors are JSON ``{"error": {"code", "message", "field"}}``: 401 for a missing or wrong
application token, 400 naming the field for a payload the portal would not send, 413 for a
field larger than ``WEBHOOK_MAX_FIELD_BYTES``; nothing is stored in any of these cases.

And one page for administrators, ``/bizproc/``: whether the application is installed (scopes,
when its token expires) and whether the robot is registered, with a button to register or
update it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import click
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from portal_ext import navigation
from portal_ext.auth.roles import role_required
from portal_ext.events.phpform import FormError, parse_pairs
from portal_ext.portal import application
from portal_ext.portal.clock import host_utcnow, portal_now
from portal_ext.portal.errors import PortalError
from portal_ext.portal.registration import client_for, current_portal, portal_for_member
from portal_ext.robots import automation

log = logging.getLogger(__name__)

bp = Blueprint("bizproc", __name__, cli_group="bizproc")
navigation.register("bizproc.index", _l("Portal application"), roles=("admin",), order=890)

TOKEN_FIELD = "auth[application_token]"


class RegisterForm(FlaskForm):
    """The register button's form: the CSRF token only."""


def _error(status: int, code: str, message: str, field: str | None) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message, "field": field}}), status


def _form() -> dict[str, Any] | tuple[Response, int]:
    limit = int(current_app.config["WEBHOOK_MAX_FIELD_BYTES"])
    for field, value in request.form.items(multi=True):
        if len(field) > limit or len(value.encode("utf-8")) > limit:
            return _error(413, "too_large", f"A field may hold at most {limit} bytes.",
                          field[:100])
    try:
        return parse_pairs(request.form.items(multi=True))
    except FormError as exc:
        return _error(400, "invalid_field", str(exc), exc.field)


@bp.post("/bizproc/install")
def install() -> Any:
    form = _form()
    if isinstance(form, tuple):
        return form
    if str(form.get("event") or "").upper() != "ONAPPINSTALL":
        return _error(400, "invalid_field", "event must be ONAPPINSTALL.", "event")
    auth = form.get("auth")
    if not isinstance(auth, dict):
        return _error(400, "invalid_field", "auth must hold the application's tokens.", "auth")
    portal = current_portal()
    try:
        found = application.install_from_event(portal, auth, now=host_utcnow())
    except application.InstallRefused as refused:
        log.warning("application install refused: %s (%s)", refused.message, refused.field)
        return _error(refused.status, "install_refused", refused.message, refused.field)
    log.info("installed as an application on portal %s (scopes %s)", portal.id, found.scope)
    return jsonify({"installed": True, "scope": found.scopes})


@bp.post("/bizproc/robot")
def robot() -> Any:
    fields = request.form
    portal = portal_for_member(fields.get("auth[member_id]") or None)
    if not application.application_token_matches(portal, fields.get(TOKEN_FIELD)):
        log.warning("robot call rejected: %s application token from %s",
                    "missing" if not fields.get(TOKEN_FIELD) else "wrong", request.remote_addr)
        return _error(401, "invalid_application_token",
                      "auth[application_token] is missing or does not match this "
                      "application's.", TOKEN_FIELD)
    form = _form()
    if isinstance(form, tuple):
        return form
    try:
        run = automation.parse_call(form)
    except automation.BadRobotCall as bad:
        return _error(400, "invalid_field", bad.message, bad.field)
    client = client_for(portal)
    now = portal_now(client)
    call, created = automation.run_robot(
        portal, run, client=client, app_client=application.application_client(portal),
        now=automation.run_time(form.get("ts"), now), received_at=host_utcnow())
    return jsonify({"accepted": created, "duplicate": not created, "state": call.state,
                    "task_id": call.task_id})


@bp.route("/bizproc/", methods=["GET"])
@role_required("admin")
def index() -> Any:
    portal = current_portal()
    found = application.installation(portal)
    registered: bool | None = None
    problem = None
    if found is not None:
        try:
            registered = automation.robot_registered(application.application_client(portal))
        except PortalError as exc:
            problem = str(exc)
    return render_template("bizproc/index.html", installation=found, registered=registered,
                           problem=problem, form=RegisterForm(),
                           handler_url=url_for("bizproc.robot", _external=True),
                           install_url=url_for("bizproc.install", _external=True))


@bp.post("/bizproc/register")
@role_required("admin")
def register() -> Any:
    form = RegisterForm()
    if not form.validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("bizproc.index"))
    portal = current_portal()
    try:
        outcome = automation.register_robot(application.application_client(portal),
                                            url_for("bizproc.robot", _external=True))
    except PortalError as exc:
        flash(_("The portal refused the robot: %(why)s", why=str(exc)), "error")
        return redirect(url_for("bizproc.index"))
    flash(_("The robot was added to the portal.") if outcome == "added"
          else _("The robot was updated on the portal."), "success")
    return redirect(url_for("bizproc.index"))


@bp.cli.command("register")
@click.option("--url", required=True,
              help="This extension's public robot address, ending in /bizproc/robot.")
def register_command(url: str) -> None:
    """Register (or update) the robot "Create a guarded task" on the portal, in the installed
    application's context; prints what was done as JSON."""
    if not url.startswith(("http://", "https://")) or not url.rstrip("/").endswith(
            "/bizproc/robot"):
        raise click.BadParameter("must be the address of https://<host>/bizproc/robot",
                                 param_hint="--url")
    portal = current_portal()
    try:
        outcome = automation.register_robot(application.application_client(portal), url)
    except PortalError as exc:
        raise click.ClickException(f"the portal refused: {exc}") from exc
    click.echo(json.dumps({"robot": automation.ROBOT_CODE, "outcome": outcome,
                           "handler": url}))


def init_app(app: Any) -> None:
    """Register the blueprint; the portal's two addresses are exempt from CSRF."""
    from portal_ext.extensions import csrf

    app.register_blueprint(bp)
    csrf.exempt(install)
    csrf.exempt(robot)

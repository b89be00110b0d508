"""The cadence report page: the filtered table (paging, CSV) and the share of overdue
companies per employee, each user seeing what their role may."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from portal_ext.auth.roles import role_required
from portal_ext.blueprints.api.params import PAGING, parse_query
from portal_ext.blueprints.cadence import bp
from portal_ext.blueprints.cadence.api import FILTERS, filters_of, report_csv, rows_json, today_of
from portal_ext.blueprints.cadence.forms import ResyncForm, SettingsForm
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.cadence import services
from portal_ext.context import here
from portal_ext.errors import Refusal
from portal_ext.portal.errors import PortalError


@bp.get("/")
@login_required
def report() -> Any:
    h = here()
    args = {k: v for k, v in request.args.items() if v.strip()}
    values = parse_query(FILTERS + PAGING, args)
    filters = filters_of(values)
    today = today_of(h)
    page = services.report_page(portal_id=h.portal.id, viewer=h.actor, filters=filters,
                                today=today, page=values["page"], per_page=values["per_page"])
    load = services.load(portal_id=h.portal.id, viewer=h.actor, filters=filters, today=today)
    names = h.names()
    return render_template("cadence/report.html", page=page, rows=rows_json(h, page.items, today),
                           load=load, names=names, values=values, args=args)


@bp.get("/report.csv")
@login_required
def report_download() -> Any:
    h = here()
    args = {k: v for k, v in request.args.items() if v.strip() and k not in ("page", "per_page")}
    return report_csv(h, parse_query(FILTERS, args))


_FIELDS = {f"intervals.{c}.{part}": f"{c.lower()}_{name}" for c in "ABC"
           for part, name in (("count", "count"), ("unit", "unit"), ("warning_days", "warning"))}
_FIELDS.update({"contact.min_call_seconds": "min_call_seconds",
                "contact.email_direction": "email_direction", "contact.meetings": "meetings"})


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
    if request.method == "POST" and form.validate_on_submit():
        body = {"category_field": (form.category_field.data or "").strip(),
                "intervals": {c: {"count": form[f"{c.lower()}_count"].data,
                                  "unit": form[f"{c.lower()}_unit"].data,
                                  "warning_days": form[f"{c.lower()}_warning"].data}
                              for c in "ABC"},
                "contact": {"min_call_seconds": form.min_call_seconds.data,
                            "email_direction": form.email_direction.data,
                            "meetings": bool(form.meetings.data)}}
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

"""The standing deputies page: set your own; heads and administrators set their people's."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal_ext.absences import services
from portal_ext.absences.editors import editable_users, may_edit
from portal_ext.auth.roles import role_required
from portal_ext.blueprints.absences import bp
from portal_ext.blueprints.absences.forms import NOBODY, StandingDeputyForm, people_choices
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.context import here
from portal_ext.errors import Refusal


@bp.route("/deputies", methods=["GET", "POST"])
@role_required()
def deputies() -> Any:
    h = here()
    people = editable_users(current_user)
    form = StandingDeputyForm()
    form.user_id.choices = people_choices([(p.portal_user_id, p.full_name) for p in people])
    form.deputy_id.choices = people_choices(
        [(NOBODY, _("Nobody (the department head covers)"))]
        + [(p.portal_user_id, p.full_name) for p in h.active_people()])
    status = 200
    if request.method == "POST":
        wanted = request.form.get("user_id", type=int)
        if wanted is not None and not may_edit(current_user, wanted):
            abort(403)
        if form.validate_on_submit():
            try:
                services.set_standing_deputy(
                    portal=h.portal, actor=h.actor, user_id=form.user_id.data,
                    deputy_id=form.deputy_id.data or None, now=h.now)
            except Refusal as error:
                refuse_on_page(error, form)
            else:
                flash(_("The standing deputy was saved."), "success")
                return redirect(url_for("absences.deputies"))
        status = 422
    else:
        form.user_id.data = request.args.get("user", current_user.portal_user_id, type=int)
    standing = services.standing_deputies(h.portal.id)
    return render_template("absences/deputies.html", form=form, people=people,
                           standing=standing, names=h.names()), status

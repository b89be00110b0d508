"""Showing a domain refusal (portal_ext.errors.Refusal) on a page, in one place.

The request's changes are rolled back first. A ``forbidden`` refusal is the 403 page; any
other puts its message under the form field the refusal names (renamed through ``fields``,
where the form calls the input otherwise), else flashes it at the top of the page; a group of
refusals (portal_ext.errors.Refusals) puts each under its field. The form keeps what was
typed: the view renders it again from the request. The API's
counterpart is portal_ext.blueprints.api.refusals."""

from __future__ import annotations

from collections.abc import Mapping

from flask import abort, flash
from flask_wtf import FlaskForm

from portal_ext.errors import FORBIDDEN, Refusal, each_refusal
from portal_ext.extensions import db


def refuse_on_page(error: Refusal, form: FlaskForm | None = None, *,
                   fields: Mapping[str, str | None] | None = None) -> None:
    """Show ``error`` on the page being answered; ``fields`` maps a refusal's field to the
    form's name for it (None: no field of the form, flash it)."""
    db.session.rollback()
    if error.kind == FORBIDDEN:
        abort(403)
    for one in each_refusal(error):
        name = one.field
        if name is not None and fields is not None and name in fields:
            name = fields[name]
        if form is not None and name is not None and name in form:
            field = form[name]
            field.errors = [*field.errors, one.message]
        else:
            flash(str(one.message), "error")

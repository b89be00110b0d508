"""The cadence settings form (administrators)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange


def _count(label: object) -> IntegerField:
    return IntegerField(label, validators=[InputRequired(), NumberRange(min=1, max=1116)])


def _warning(label: object) -> IntegerField:
    return IntegerField(label, validators=[InputRequired(), NumberRange(min=0, max=365)])


_UNITS = [SelectChoice("day", _l("days")), SelectChoice("month", _l("calendar months"))]


class SettingsForm(FlaskForm):
    category_field = StringField(_l("Category field"), validators=[InputRequired()])
    a_count = _count(_l("A: every"))
    a_unit = SelectField(_l("A: unit"), choices=_UNITS)
    a_warning = _warning(_l("A: warn days before"))
    b_count = _count(_l("B: every"))
    b_unit = SelectField(_l("B: unit"), choices=_UNITS)
    b_warning = _warning(_l("B: warn days before"))
    c_count = _count(_l("C: every"))
    c_unit = SelectField(_l("C: unit"), choices=_UNITS)
    c_warning = _warning(_l("C: warn days before"))
    min_call_seconds = IntegerField(_l("Minimum call duration, seconds"),
                                    validators=[InputRequired(), NumberRange(min=0, max=3600)])
    email_direction = SelectField(_l("E-mails that count"), choices=[
        SelectChoice("both", _l("incoming and outgoing")),
        SelectChoice("in", _l("incoming only")), SelectChoice("out", _l("outgoing only"))])
    meetings = BooleanField(_l("Completed meetings count too"))
    digest_hour = SelectField(_l("Daily digest at (portal time)"), choices=[
        SelectChoice("", _l("no digest")),
        *(SelectChoice(str(h), f"{h:02d}:00") for h in range(24))], default="9")


class ResyncForm(FlaskForm):
    """Rebuilding the report from the portal: nothing but the CSRF token."""


PLAN_HOURS = tuple(range(8, 20))


class PlanCallForm(FlaskForm):
    """Planning a call on a company: which company, and at what hour tomorrow."""

    company_id = IntegerField(validators=[InputRequired(), NumberRange(min=1)])
    hour = SelectField(_l("Tomorrow at"), default="10",
                       choices=[SelectChoice(str(h), f"{h:02d}:00") for h in PLAN_HOURS])

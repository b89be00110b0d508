"""Forms of the absence pages. Choices are filled by the view (who the viewer may edit)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from portal_ext.absences.models import BUSINESS_TRIP, OTHER, SICK_LEAVE, VACATION
from portal_ext.absences.validation import NOTE_MAX_LENGTH

KIND_LABELS = {VACATION: _l("Vacation"), SICK_LEAVE: _l("Sick leave"),
               BUSINESS_TRIP: _l("Business trip"), OTHER: _l("Other")}
NOBODY = 0  # the "no deputy" choice


def people_choices(people: list[tuple[int, object]]) -> list[SelectChoice]:
    """Select options for portal user ids (value, label)."""
    return [SelectChoice(value, label) for value, label in people]


class AbsenceForm(FlaskForm):
    user_id = SelectField(_l("Who is away"), coerce=int)
    start = DateField(_l("First day"), validators=[
        InputRequired(message=_l("Give the first day."))])
    end = DateField(_l("Last day"), validators=[
        InputRequired(message=_l("Give the last day."))])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, v) for k, v in KIND_LABELS.items()])
    deputy_id = SelectField(_l("Deputy"), coerce=int)
    note = TextAreaField(_l("Note"), validators=[
        Length(max=NOTE_MAX_LENGTH, message=_l("At most %(max)d characters.",
                                               max=NOTE_MAX_LENGTH))])
    temporary_access = BooleanField(_l("Give the deputy read access to the clients while "
                                       "the absence lasts"))


class StandingDeputyForm(FlaskForm):
    user_id = SelectField(_l("Person"), coerce=int)
    deputy_id = SelectField(_l("Standing deputy"), coerce=int)

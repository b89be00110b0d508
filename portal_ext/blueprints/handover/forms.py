"""Forms of the handover pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange
from wtforms.widgets import CheckboxInput, ListWidget

from portal_ext.moves.types import ENTITY_TYPES


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def type_choices() -> list[tuple[str, object]]:
    return [(name, kind.label) for name, kind in ENTITY_TYPES.items()]


class HandoverForm(FlaskForm):
    types = CheckboxList(_l("What to hand over"), choices=type_choices, validate_choice=False)
    include_closed = BooleanField(_l("Closed items too (won and lost deals, converted leads, "
                                     "completed activities and tasks...)"))
    include_new_leads = BooleanField(_l("At the end, give back the new leads that reached the "
                                        "deputy for these clients"), default=True)


class ConfirmForm(FlaskForm):
    confirm = BooleanField(_l("I have checked the preview: move these items to the deputy"))
    # Only asked when the absence has not started yet; otherwise the items move at once.
    start = RadioField(_l("When"), choices=[
        SelectChoice("absence_start", _l("When the absence starts")),
        SelectChoice("now", _l("Now"))], default="absence_start")


class StartNowForm(FlaskForm):
    """Start a scheduled handover at once (the CSRF token; ``start`` is always now)."""


class ActionForm(FlaskForm):
    """A button with nothing to fill in (restore, discard): only the CSRF token."""


class PolicyForm(FlaskForm):
    enabled = BooleanField(_l("Hand over automatically when an absence starts"))
    types = CheckboxList(_l("What to hand over"), choices=type_choices, validate_choice=False)
    include_closed = BooleanField(_l("Closed items too"))
    include_new_leads = BooleanField(_l("Give back the new leads at the end"))
    min_days = IntegerField(_l("Only absences of at least this many days"), default=3,
                            validators=[NumberRange(min=0, max=366)])

"""The deadline guard's forms. The rules (modes, limits, a reason of a few words, a future
deadline) are the service's (portal_ext.deadlines.services)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

MODE_LABELS = {"free": _l("Free"), "reason_required": _l("A reason is required"),
               "approval_required": _l("An approval is required"), "locked": _l("Locked")}


class PolicyForm(FlaskForm):
    scope = SelectField(_l("Applies to"))
    mode = SelectField(_l("Mode"), choices=[SelectChoice(k, v) for k, v in MODE_LABELS.items()])
    max_postponements = IntegerField(_l("At most N postponements per task"),
                                     validators=[Optional()])
    max_delay_days = IntegerField(_l("At most D days past the original deadline"),
                                  validators=[Optional()])
    exempt_heads = BooleanField(_l("Heads move deadlines freely"), default=True)


class RequestForm(FlaskForm):
    task_id = IntegerField(_l("Task"))
    new_deadline = StringField(_l("New deadline"), render_kw={"type": "datetime-local"})
    reason = TextAreaField(_l("Reason"))


class DecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason (required to decline)"))


class EmptyForm(FlaskForm):
    """A button's form: the CSRF token only."""

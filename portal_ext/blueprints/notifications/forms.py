"""The team form. Choices (the portal's active people) are filled by the view; the rules
(name, at least one kind, at least two members) are the service's (notifications.teams)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from portal_ext.notifications.kinds import KIND_LABELS, TEAM_KINDS


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TeamForm(FlaskForm):
    name = StringField(_l("Name"))
    kinds = CheckboxesField(_l("Notifications the team shares"),
                            choices=[SelectChoice(k, KIND_LABELS[k]) for k in TEAM_KINDS])
    members = CheckboxesField(_l("Members"), coerce=int)

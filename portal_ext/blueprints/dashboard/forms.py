"""Forms of the dashboard pages (WTForms; the CSRF token comes with FlaskForm)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal_ext.auth.tokens import NAME_MAX_LENGTH


class TokenForm(FlaskForm):
    name = StringField(_l("What is it for?"), validators=[
        DataRequired(message=_l("Give the token a name.")),
        Length(max=NAME_MAX_LENGTH,
               message=_l("At most %(max)d characters.", max=NAME_MAX_LENGTH)),
    ])

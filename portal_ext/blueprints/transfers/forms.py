"""Forms of the transfer pages."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from portal_ext.blueprints.handover.forms import ActionForm, CheckboxList, type_choices
from portal_ext.transfers.strategies import ENTITY_TYPES

__all__ = ["ActionForm", "PolicyForm", "TransferForm", "choices", "per_type_field"]

NOBODY = 0


def _id(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return NOBODY


def choices(pairs: Sequence[tuple[object, object]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def strategy_choices() -> list[SelectChoice]:
    return choices([("person", _l("One named person")),
                    ("head", _l("The department head")),
                    ("spread", _l("Spread over chosen people by their load")),
                    ("spread_department", _l("Spread over a department by load")),
                    ("per_type", _l("A successor per type of item"))])


def _type_choices() -> list[SelectChoice]:
    return choices(list(type_choices()))


class PeopleList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def per_type_field(name: str) -> str:
    return f"successor_{name}"


class TransferForm(FlaskForm):
    user_id = SelectField(_l("Whose items"), coerce=_id, validate_choice=False)
    strategy = RadioField(_l("Who takes over"), choices=strategy_choices, default="head",
                          validate_choice=False)
    successor_id = SelectField(_l("Successor"), coerce=_id, validate_choice=False)
    successor_ids = PeopleList(_l("Spread over"), coerce=_id, validate_choice=False)
    department_id = SelectField(_l("Department"), coerce=_id, validate_choice=False)
    types = CheckboxList(_l("What to transfer"), choices=_type_choices, validate_choice=False)
    include_closed = BooleanField(_l("Closed items too (recommended: a returning client finds "
                                     "someone to talk to)"), default=True)


for _name in ENTITY_TYPES:  # per_type: one successor per type
    setattr(TransferForm, per_type_field(_name),
            SelectField(_name, coerce=_id, validate_choice=False))


class PolicyForm(FlaskForm):
    on_dismissal = RadioField(_l("When the portal dismisses someone"), choices=choices([
        ("confirm", _l("List them here; an administrator chooses the successors")),
        ("automatic", _l("Transfer everything at once to the successor below"))]),
        default="confirm", validate_choice=False)
    auto_mode = BooleanField(_l("Automatic change of responsible: at a dismissal, every "
                                "company of the user and every contact of those companies "
                                "get the new manager at once"))
    auto_on_absence = BooleanField(_l("Also while the user is away (to the person covering; "
                                      "given back when the absence ends)"))
    strategy = RadioField(_l("New manager"), choices=choices([
        ("head", _l("The department head")), ("person", _l("One named person"))]),
        default="head", validate_choice=False)
    successor_id = SelectField(_l("Named person"), coerce=_id, validate_choice=False)
    include_closed = BooleanField(_l("Closed items too"), default=True)

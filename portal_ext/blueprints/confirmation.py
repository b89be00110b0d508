"""Confirmation of mass and destructive actions on the pages.

The action's POST without a valid confirmation renders a page that says in numbers what will
happen (a :class:`Plan`), with "Confirm" and "Cancel"; only a POST carrying the token that page
issued performs the action. The token is signed and bound to the action, the user and the
plan's numbers (``binding``): if the plan changes between the question and the answer (more
items, another successor), the page asks again with the new numbers. Tokens expire after an
hour.

The JSON API is for integrators and keeps its one-request actions (the explicit
``POST .../apply`` is its confirmation); the pages never call it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, render_template, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

FIELD = "confirmation"
MAX_AGE_S = 3600
_SALT = "portal-ext-confirmation"


@dataclass
class Plan:
    """What a confirmation page shows, and what its token is bound to."""

    action: str  # e.g. "transfers.apply:12": the action and its object
    heading: str  # the question, with the main number
    lines: list[str]  # what happens, in numbers
    button: str  # the confirming button's label
    cancel_url: str
    binding: dict[str, Any]  # the numbers the answer must still match
    fields: dict[str, str] = field(default_factory=dict)  # inputs carried to the answer
    way_back: str | None = None  # how to undo it afterwards, where there is a way
    danger: bool = False  # destructive (no way back): the button is red
    title: str = ""  # the page title (the heading if empty)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"] or "portal-ext", salt=_SALT)


def _digest(plan: Plan) -> str:
    who = getattr(current_user, "portal_user_id", None)
    raw = json.dumps({"a": plan.action, "u": who, "b": plan.binding, "f": plan.fields},
                     sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def token(plan: Plan) -> str:
    return str(_serializer().dumps(_digest(plan)))


def answered() -> bool:
    """The POST carries a confirmation (valid or not)."""
    return bool(request.form.get(FIELD))


def confirmed(plan: Plan) -> bool:
    """The POST carries the token issued for exactly this plan, not older than an hour."""
    given = request.form.get(FIELD, "")
    if not given:
        return False
    try:
        digest = _serializer().loads(given, max_age=MAX_AGE_S)
    except BadSignature:  # also SignatureExpired
        return False
    return bool(digest == _digest(plan))


def ask(plan: Plan) -> Any:
    """The confirmation page (nothing was done). A stale or foreign answer says the numbers
    changed."""
    return render_template("_confirm.html", plan=plan, token=token(plan), field=FIELD,
                           changed=answered())

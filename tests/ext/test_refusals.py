"""One shape for a refused request: every domain's errors are refusals, the API answers each kind
with its status and the field to blame, and a page shows a refusal under the field it names."""

from __future__ import annotations

import importlib
import inspect
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, get_flashed_messages
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden
from wtforms import StringField

from portal_ext.errors import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, Refusal
from tests.ext.absences_support import FEDOROV, LIFT_HEAD, NIKITINA, token
from tests.ext.handover_support import record_absence

PACKAGE = Path(__file__).resolve().parents[2] / "portal_ext"
# The port to the portal is not a domain: its errors are outages (503), never a refusal.
NOT_DOMAINS = {"portal"}


def domain_errors() -> list[type[BaseException]]:
    """Every exception class defined in a ``portal_ext/<domain>/errors.py``."""
    found: list[type[BaseException]] = []
    for path in sorted(PACKAGE.glob("*/errors.py")):
        if path.parent.name in NOT_DOMAINS:
            continue
        module = importlib.import_module(f"portal_ext.{path.parent.name}.errors")
        found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, BaseException) and cls.__module__ == module.__name__]
    return found


def test_every_domain_error_is_a_refusal() -> None:
    errors = domain_errors()
    assert {cls.__name__ for cls in errors} >= {
        "HandoverError", "TransferError", "PolicyError", "AbsenceError", "TeamError",
        "NotAllowed", "NoSuccessor"}
    assert [cls.__name__ for cls in errors if not issubclass(cls, Refusal)] == []


# -- the API: each kind its status, the field named ------------------------------------------
@pytest.fixture
def absence_id(app: Flask, t0: datetime) -> int:
    return record_absence(app, user=NIKITINA, deputy=FEDOROV, start=t0 - timedelta(hours=1),
                          end=t0 + timedelta(days=7))


def error_of(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    body: dict[str, Any] = answer.get_json()
    assert list(body) == ["error"] and set(body["error"]) == {"code", "message", "field"}
    error: dict[str, Any] = body["error"]
    return error


def test_invalid_input_is_422_naming_the_field_in_english(
        client: FlaskClient, admin: dict[str, str]) -> None:
    answer = client.post("/api/v1/teams", headers={**admin, "Accept-Language": "ru"},
                         json={"name": " ", "kinds": ["new_lead"],
                               "members": [NIKITINA, FEDOROV]})
    error = error_of(answer, 422)
    assert (error["code"], error["field"]) == ("validation", "name")
    assert error["message"] == "Give the team a name."


def test_a_forbidden_request_is_403_naming_the_field(
        app: Flask, client: FlaskClient, absence_id: int) -> None:
    answer = client.post("/api/v1/handovers", headers=token(app, LIFT_HEAD),
                         json={"absence_id": absence_id})
    error = error_of(answer, 403)
    assert (error["code"], error["field"]) == ("forbidden", "absence_id")
    assert "department head" in error["message"]


def test_what_does_not_exist_is_404_naming_the_field(
        client: FlaskClient, admin: dict[str, str], absence_id: int) -> None:
    answer = client.post("/api/v1/handovers", headers=admin, json={"absence_id": 424242})
    error = error_of(answer, 404)
    assert (error["code"], error["field"]) == ("not_found", "absence_id")
    assert error["message"] == "There is no absence 424242."


def test_a_conflict_with_the_state_is_409_naming_the_field(
        client: FlaskClient, admin: dict[str, str], absence_id: int) -> None:
    first = client.post("/api/v1/handovers", headers=admin,
                        json={"absence_id": absence_id, "types": ["deal"]})
    assert first.status_code == 201, first.get_json()
    again = client.post("/api/v1/handovers", headers=admin,
                        json={"absence_id": absence_id, "types": ["deal"]})
    error = error_of(again, 409)
    assert (error["code"], error["field"]) == ("conflict", "absence_id")


def test_the_kinds_are_the_four_statuses() -> None:
    statuses = {kind: Refusal("x", "why", kind).status
                for kind in (INVALID, FORBIDDEN, NOT_FOUND, CONFLICT)}
    assert statuses == {INVALID: 422, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409}
    with pytest.raises(ValueError):
        Refusal("x", "why", "teapot")


# -- pages: under the named field, else at the top; forbidden is the 403 page -----------------
class NameForm(FlaskForm):
    name = StringField("Name")


def test_a_page_shows_a_refusal_under_its_field_else_at_the_top(app: Flask) -> None:
    from portal_ext.blueprints.refusals import refuse_on_page

    with app.test_request_context("/", method="POST"):
        form = NameForm(meta={"csrf": False})
        refuse_on_page(Refusal("name", "Give it a name."), form)
        assert form.name.errors == ["Give it a name."]
        refuse_on_page(Refusal("colour", "No such colour."), form)
        refuse_on_page(Refusal("successors", "Nobody can take over."), form,
                       fields={"successors": None})
        refuse_on_page(Refusal("title", "Too long."), form, fields={"title": "name"})
        assert form.name.errors == ["Give it a name.", "Too long."]
        assert get_flashed_messages(with_categories=True) == [
            ("error", "No such colour."), ("error", "Nobody can take over.")]
        with pytest.raises(Forbidden):
            refuse_on_page(Refusal("name", "Not yours.", FORBIDDEN), form)


def test_every_bad_field_is_refused_at_once_on_the_api_and_the_pages(
        client: FlaskClient, admin: dict[str, str], login_as: Any) -> None:
    answer = client.post("/api/v1/teams", headers=admin,
                         json={"name": " ", "kinds": [], "members": []})
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert (error["code"], error["field"]) == ("validation", "name")  # the first, as before
    assert [(e["field"], e["code"]) for e in error["errors"]] == [
        ("name", "validation"), ("kinds", "validation"), ("members", "validation")]
    assert error["errors"][0]["message"] == error["message"] == "Give the team a name."

    login_as(client, "admin@demo.portal")
    page = client.post("/teams/new", data={"name": "Equipment"})
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Choose at least one kind of notification to share." in text
    assert "A team needs at least 2 members." in text
    assert 'value="Equipment"' in text  # what was typed is kept

    policy = client.post("/deadlines/policies", data={
        "scope": "default", "mode": "reason_required", "max_postponements": "-2",
        "max_delay_days": "20000"})
    text = policy.get_data(as_text=True)
    assert policy.status_code == 422
    assert text.count("must be empty or a whole number from 0 to 10000") == 2
    assert 'value="-2"' in text and 'value="20000"' in text

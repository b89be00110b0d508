"""Hostile input gets a clear 4xx and changes nothing: form fields nested too deep, bodies
too large (per route, from the settings), ids past what an id column holds (2^31 - 1) and
past 2^63, JSON nested 10,000 deep."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal_ext.absences.models import Absence
from portal_ext.config import BaseConfig, settings_from
from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.notifications.models import Team
from portal_ext.request_bounds import JSONTooDeep, check_json_depth
from simulator import Simulator
from tests.ext.test_api import ADMIN, bearer, create_token, json_of

WEBHOOK = "/events/webhook"
TOO_BIG_ID = 2**63  # past any 64-bit integer
PAST_THE_RANGE = 2**31  # one past the largest id an INTEGER column holds
HUGE_ID = 22945606687625060352


@pytest.fixture
def admin(app: Flask) -> dict[str, str]:
    return bearer(create_token(app, ADMIN))


@pytest.fixture
def days(demo_sim: Simulator) -> dict[str, str]:
    """A valid start and end a month from the portal's today."""
    today = demo_sim.clock.now().date()
    return {"start": (today + timedelta(days=30)).isoformat(),
            "end": (today + timedelta(days=31)).isoformat()}


def stored(app: Flask) -> dict[str, int]:
    """What a refused request must not have added to."""
    with app.app_context():
        return {name: int(db.session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in (("inbox", InboxEvent), ("absences", Absence),
                                    ("teams", Team))}


def error_of(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    assert answer.is_json, answer.get_data(as_text=True)[:500]
    error: dict[str, Any] = answer.json["error"]
    return error


def webhook_form(app: Flask, fields: dict[str, str] | None = None, *,
                 token: bool = True) -> str:
    pairs = {"event": "ONCRMDEALUPDATE", "event_handler_id": "7", "data[FIELDS][ID]": "41",
             "ts": "1766047124", "auth[member_id]": "m", **(fields or {})}
    if token:
        pairs["auth[application_token]"] = str(app.config["PORTAL_APPLICATION_TOKEN"])
    return urlencode(pairs)


def post_webhook(client: FlaskClient, body: str | bytes) -> Any:
    return client.post(WEBHOOK, data=body, content_type="application/x-www-form-urlencoded")


def test_a_well_formed_webhook_is_still_stored(app: Flask, client: FlaskClient) -> None:
    answer = post_webhook(client, webhook_form(app))
    assert answer.status_code == 200 and answer.json["accepted"] is True
    assert stored(app)["inbox"] == 1


# -- nesting --------------------------------------------------------------------------------
DEEP_NAME = "data" + "[a]" * 500


def test_a_deeply_nested_field_without_a_token_is_401(app: Flask, client: FlaskClient) -> None:
    before = stored(app)
    answer = post_webhook(client, webhook_form(app, {DEEP_NAME: "x"}, token=False))
    assert error_of(answer, 401)["field"] == "auth[application_token]"
    assert stored(app) == before


def test_a_deeply_nested_field_is_400_naming_it(app: Flask, client: FlaskClient) -> None:
    before = stored(app)
    answer = post_webhook(client, webhook_form(app, {DEEP_NAME: "x"}))
    error = error_of(answer, 400)
    assert error["field"].startswith("data[a][a][a]")
    assert "nested" in error["message"]
    assert stored(app) == before


# -- sizes ----------------------------------------------------------------------------------
def test_a_50_mb_webhook_is_413_before_its_token_is_read(app: Flask,
                                                           client: FlaskClient) -> None:
    before = stored(app)
    body = webhook_form(app, {"data[FIELDS][X]": "x" * (50 * 1024 * 1024)})
    for candidate in (body, webhook_form(app, {"data[FIELDS][X]": "x" * 70_000}, token=False)):
        assert error_of(post_webhook(client, candidate), 413)["code"] == "too_large"
    assert stored(app) == before


# As a WSGI server hands over a chunked body: no length, the stream ends where the body does.
CHUNKED = {"Transfer-Encoding": "chunked", "Content-Type": "application/x-www-form-urlencoded"}


def test_a_chunked_webhook_past_the_limit_is_413(app: Flask, client: FlaskClient) -> None:
    """No Content-Length to refuse at once: the body is read up to the limit, then refused."""
    before = stored(app)
    limit = app.config["WEBHOOK_MAX_BYTES"]
    for size, status in ((limit + 1, 413), (5 * limit, 413)):
        body = webhook_form(app, {"data[FIELDS][X]": "x" * size}).encode()
        answer = client.post(WEBHOOK, input_stream=io.BytesIO(body), headers=CHUNKED,
                             environ_base={"wsgi.input_terminated": True})
        assert error_of(answer, status)["code"] == "too_large"
    assert stored(app) == before
    small = webhook_form(app).encode()
    answer = client.post(WEBHOOK, input_stream=io.BytesIO(small), headers=CHUNKED,
                         environ_base={"wsgi.input_terminated": True})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert stored(app)["inbox"] == before["inbox"] + 1


def test_a_field_larger_than_the_setting_is_413_naming_it(app: Flask,
                                                            client: FlaskClient) -> None:
    before = stored(app)
    limit = app.config["WEBHOOK_MAX_FIELD_BYTES"]
    answer = post_webhook(client, webhook_form(app, {"data[FIELDS][X]": "x" * (limit + 1)}))
    assert error_of(answer, 413)["field"] == "data[FIELDS][X]"
    assert stored(app) == before
    fits = post_webhook(client, webhook_form(app, {"data[FIELDS][X]": "x" * limit}))
    assert fits.status_code == 200
    assert stored(app)["inbox"] == before["inbox"] + 1


def test_api_and_form_bodies_over_their_limits_are_413(app: Flask, client: FlaskClient,
                                                       admin: dict[str, str],
                                                       days: dict[str, str]) -> None:
    before = stored(app)
    note = "x" * (app.config["API_MAX_BYTES"] + 1)
    answer = client.post("/api/v1/absences", headers=admin,
                         json={**days, "note": note})
    assert error_of(answer, 413)["code"] == "too_large"
    page = client.post("/absences/new", data={"note": "x" * (app.config["FORM_MAX_BYTES"] + 1)})
    assert page.status_code == 413 and page.mimetype == "text/html"
    assert stored(app) == before


def test_the_limits_come_from_the_settings(app: Flask, client: FlaskClient,
                                           admin: dict[str, str]) -> None:
    settings = settings_from(BaseConfig, environ={"PORTAL_EXT_API_MAX_BYTES": "200",
                                                  "PORTAL_EXT_WEBHOOK_MAX_BYTES": "300"})
    assert (settings["API_MAX_BYTES"], settings["WEBHOOK_MAX_BYTES"]) == (200, 300)
    app.config.update(API_MAX_BYTES=200, WEBHOOK_MAX_BYTES=300)
    answer = client.post("/api/v1/teams", headers=admin,
                         json={"name": "x" * 200, "kinds": ["new_lead"], "members": [5, 6]})
    assert error_of(answer, 413)["code"] == "too_large"
    assert error_of(post_webhook(client, webhook_form(app, {"data[FIELDS][X]": "x" * 300})),
                    413)["code"] == "too_large"
    assert post_webhook(client, webhook_form(app)).status_code == 200


# -- big integers ---------------------------------------------------------------------------
def test_an_id_past_the_id_range_in_a_path_is_404(client: FlaskClient,
                                              admin: dict[str, str]) -> None:
    for path in (f"/api/v1/teams/{HUGE_ID}", f"/api/v1/absences/{TOO_BIG_ID}",
                 f"/api/v1/absences/{'9' * 5000}/cover", f"/api/v1/handovers/{TOO_BIG_ID}",
                 f"/api/v1/transfers/{TOO_BIG_ID}"):
        assert error_of(client.get(path, headers=admin), 404)["code"] == "not_found", path
    for path in (f"/api/v1/teams/{PAST_THE_RANGE}", "/api/v1/teams/9223372036854775807"):
        assert error_of(client.get(path, headers=admin), 404)["code"] == "not_found", path


def test_an_id_past_the_id_range_in_a_path_of_a_change_is_404(app: Flask, client: FlaskClient,
                                                         admin: dict[str, str]) -> None:
    before = stored(app)
    answer = client.put(f"/api/v1/deputies/{TOO_BIG_ID}", headers=admin, json={"deputy_id": 5})
    assert error_of(answer, 404)["code"] == "not_found"
    assert stored(app) == before


@pytest.mark.parametrize(("path", "name"), [
    ("/api/v1/absences", "deputy"), ("/api/v1/absences", "user"), ("/api/v1/users", "department"),
    ("/api/v1/deliveries", "user"), ("/api/v1/deputies", "user"), ("/api/v1/users", "page")])
def test_an_id_past_the_id_range_in_a_query_is_422_naming_it(client: FlaskClient,
                                                        admin: dict[str, str], path: str,
                                                        name: str) -> None:
    for value in (str(PAST_THE_RANGE), str(TOO_BIG_ID), "1062607967679" + "0" * 40, "9" * 5000):
        answer = client.get(path, headers=admin, query_string={name: value})
        assert error_of(answer, 422)["field"] == name


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("post", "/api/v1/teams", {"name": "T", "kinds": ["new_lead"],
                               "members": [5, -20864578293451345687]}, "members"),
    ("post", "/api/v1/teams", {"name": "T", "kinds": ["new_lead"],
                               "members": [5, TOO_BIG_ID]}, "members"),
    ("post", "/api/v1/absences", {"user_id": TOO_BIG_ID}, "user_id"),
    ("post", "/api/v1/absences", {"deputy_id": HUGE_ID}, "deputy_id"),
    ("put", "/api/v1/deputies/5", {"deputy_id": TOO_BIG_ID}, "deputy_id"),
    ("put", "/api/v1/deputies/5", {"deputy_id": PAST_THE_RANGE}, "deputy_id"),
    ("post", "/api/v1/teams", {"name": "T", "kinds": ["new_lead"],
                               "members": [5, PAST_THE_RANGE]}, "members"),
    ("post", "/api/v1/handovers", {"absence_id": TOO_BIG_ID}, "absence_id"),
    ("post", "/api/v1/transfers", {"user_id": TOO_BIG_ID, "strategy": "person",
                                   "successors": [5]}, "user_id"),
    ("post", "/api/v1/transfers", {"user_id": 6, "strategy": "person",
                                   "successors": [HUGE_ID]}, "successors"),
    ("post", "/api/v1/transfers", {"user_id": 6, "strategy": "spread",
                                   "department_id": HUGE_ID}, "department_id"),
])
def test_an_id_past_the_id_range_in_a_body_is_422_naming_it(
        app: Flask, client: FlaskClient, admin: dict[str, str], days: dict[str, str],
        method: str, path: str, body: dict[str, Any], field: str) -> None:
    before = stored(app)
    if path == "/api/v1/absences":
        body = {**days, **body}
    answer = getattr(client, method)(path, headers=admin, json=body)
    assert error_of(answer, 422)["field"] == field
    assert stored(app) == before


@pytest.mark.parametrize(("fields", "field"), [
    ({"data[FIELDS][ID]": "1" * 30}, "data[FIELDS][ID]"),
    ({"data[FIELDS][ID]": str(TOO_BIG_ID)}, "data[FIELDS][ID]"),
    ({"data[FIELDS][ID]": "0"}, "data[FIELDS][ID]"),
    ({"data[FIELDS][ID]": str(PAST_THE_RANGE)}, "data[FIELDS][ID]"),
    ({"ts": "253402300800"}, "ts"),  # the first second after the year 9999
    ({"data[FIELDS_AFTER][ID]": "9" * 25}, "data[FIELDS_AFTER][ID]"),
    ({"ts": "7" * 1000}, "ts"),
])
def test_a_webhook_id_or_ts_past_the_id_range_is_400_and_not_stored(
        app: Flask, client: FlaskClient, fields: dict[str, str], field: str) -> None:
    before = stored(app)
    answer = post_webhook(client, webhook_form(app, fields))
    assert error_of(answer, 400)["field"] == field
    assert stored(app) == before


def test_an_unexpected_failure_under_the_api_is_json(app: Flask, client: FlaskClient,
                                                     admin: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from portal_ext.directory import access

    def broken(**_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(access, "visible_users", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    error = error_of(client.get("/api/v1/users", headers=admin), 500)
    assert error["code"] == "internal_error" and "boom" not in error["message"]


# -- deep JSON ------------------------------------------------------------------------------
DEEP_ARRAY = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/v1/absences"), ("post", "/api/v1/teams"), ("post", "/api/v1/handovers"),
    ("post", "/api/v1/transfers"), ("put", "/api/v1/deputies/5")])
def test_json_nested_10000_deep_is_400(app: Flask, client: FlaskClient, admin: dict[str, str],
                                       method: str, path: str) -> None:
    before = stored(app)
    for body in (DEEP_ARRAY, DEEP_OBJECT):
        answer = getattr(client, method)(path, headers=admin, data=body,
                                         content_type="application/json")
        error = error_of(answer, 400)
        assert "nested" in error["message"]
    assert stored(app) == before


def test_json_of_an_ordinary_depth_is_still_read(client: FlaskClient,
                                                 admin: dict[str, str]) -> None:
    body = json.dumps({"name": "Deep [[[{{{ note", "kinds": ["new_lead"], "members": [5, 6]})
    answer = client.post("/api/v1/teams", headers=admin, data=body,
                         content_type="application/json")
    assert answer.status_code == 201, answer.json
    assert json_of(answer)["name"] == "Deep [[[{{{ note"


@pytest.mark.parametrize(("text", "limit", "too_deep"), [
    ('["[[[[", "{{{{"]', 1, False),             # brackets in strings do not count
    ('["\\\\", "\\"[[[["]', 1, False),            # nor after escaped quotes and backslashes
    ('[[]]', 1, True), ('{"a": {"b": [1]}}', 3, False), ('{"a": {"b": [1]}}', 2, True),
    ('"\\\\' * 100_000, 32, False),               # a long run of escapes: one pass, no backtracking
])
def test_json_depth_counts_structure_not_text(text: str, limit: int, too_deep: bool) -> None:
    if too_deep:
        with pytest.raises(JSONTooDeep):
            check_json_depth(text, limit)
    else:
        check_json_depth(text, limit)

"""The JSON API: bearer tokens from the CLI, roles, filters, paging, errors, openapi.json."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.auth.models import ApiToken
from portal_ext.directory.models import PortalUser
from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import current_portal

ADMIN = "admin@demo.portal"
HEAD = "i.pavlov@demo.portal"  # Игорь Павлов, heads ТК-Лифт (department 4)
EMPLOYEE = "o.nikitina@demo.portal"


def create_token(app: Flask, email: str) -> str:
    result = app.test_cli_runner().invoke(args=["token", "create", email])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def json_of(response: Any) -> Any:
    assert response.is_json, response.get_data(as_text=True)
    return response.json


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(client: FlaskClient, path: str, token: str, **query: Any) -> Any:
    return client.get(path, headers=bearer(token), query_string=query)


@pytest.fixture
def admin_token(app: Flask) -> str:
    return create_token(app, ADMIN)


def test_cli_prints_only_a_token_that_works(app: Flask, client: FlaskClient) -> None:
    result = app.test_cli_runner().invoke(args=["token", "create", "ADMIN@demo.portal"])
    assert result.exit_code == 0
    assert re.fullmatch(r"pe_[\w-]{40,}\n", result.stdout)
    response = get(client, "/api/v1/users", result.stdout.strip())
    assert response.status_code == 200
    assert response.json["total"] == 12
    with app.app_context():
        stored = db.session.scalars(select(ApiToken)).one()
        assert stored.last_used_at is not None and stored.name == "cli"


def test_cli_refuses_an_unknown_email(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["token", "create", "nobody@demo.portal"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "nobody@demo.portal" in result.stderr
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).all() == []


def test_missing_or_wrong_token_is_401_json(client: FlaskClient, admin_token: str) -> None:
    for headers in ({}, bearer("pe_not-a-real-token"), bearer(admin_token + "x"),
                    {"Authorization": f"Basic {admin_token}"}):
        response = client.get("/api/v1/users", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        error = json_of(response)["error"]
        assert error["code"] in ("unauthorized", "invalid_token")
        assert error["field"] == "Authorization"


def test_revoked_token_and_dismissed_owner_are_401(app: Flask, client: FlaskClient) -> None:
    token = create_token(app, EMPLOYEE)
    other = create_token(app, HEAD)
    with app.app_context():
        first = db.session.scalars(select(ApiToken).order_by(ApiToken.id)).first()
        assert first is not None
        first.revoked_at = host_utcnow()
        head = db.session.scalars(select(PortalUser).where(PortalUser.email == HEAD)).one()
        head.active = False
        db.session.commit()
    assert get(client, "/api/v1/users", token).status_code == 401
    assert get(client, "/api/v1/users", other).status_code == 401


def test_employee_may_not_read_events_or_users(app: Flask, client: FlaskClient) -> None:
    token = create_token(app, EMPLOYEE)
    for path in ("/api/v1/events", "/api/v1/users"):
        response = get(client, path, token)
        assert response.status_code == 403, path
        assert response.json["error"]["code"] == "forbidden"


def test_head_reads_only_their_department(app: Flask, client: FlaskClient) -> None:
    token = create_token(app, HEAD)
    body = get(client, "/api/v1/users", token).json
    assert {u["email"] for u in body["items"]} == {
        "i.pavlov@demo.portal", "e.smirnova@demo.portal", "r.kuznetsov@demo.portal"}
    assert get(client, "/api/v1/events", token).status_code == 403


def test_users_filters(app: Flask, client: FlaskClient, admin_token: str) -> None:
    with app.app_context():
        user = db.session.scalars(select(PortalUser)
                                  .where(PortalUser.email == "m.orlov@demo.portal")).one()
        user.active = False
        db.session.commit()
    dismissed = get(client, "/api/v1/users", admin_token, active="false").json
    assert [u["email"] for u in dismissed["items"]] == ["m.orlov@demo.portal"]
    assert dismissed["items"][0]["active"] is False
    assert get(client, "/api/v1/users", admin_token, active="true").json["total"] == 11
    lift = get(client, "/api/v1/users", admin_token, department=4).json
    assert lift["total"] == 3 and all(4 in u["department_ids"] for u in lift["items"])
    heads = get(client, "/api/v1/users", admin_token, role="head").json
    assert {u["id"] for u in heads["items"]} == {2, 3, 4, 8, 11}
    admins = get(client, "/api/v1/users", admin_token, role="admin").json["items"]
    assert [(u["id"], u["full_name"]) for u in admins] == [(1, "Дмитрий Соколов")]


def test_users_are_paged(client: FlaskClient, admin_token: str) -> None:
    first = get(client, "/api/v1/users", admin_token, per_page=5).json
    third = get(client, "/api/v1/users", admin_token, per_page=5, page=3).json
    assert (first["total"], first["pages"], len(first["items"])) == (12, 3, 5)
    assert len(third["items"]) == 2
    everyone = get(client, "/api/v1/users", admin_token, per_page=100).json["items"]
    assert [u["id"] for u in first["items"] + third["items"]] == (
        [u["id"] for u in everyone[:5]] + [u["id"] for u in everyone[10:]])


@pytest.mark.parametrize(("query", "status", "field"), [
    ({"per_page": "abc"}, 422, "per_page"),
    ({"per_page": "1000"}, 422, "per_page"),
    ({"per_page": "0"}, 422, "per_page"),
    ({"page": "-1"}, 422, "page"),
    ({"active": "maybe"}, 422, "active"),
    ({"role": "boss"}, 422, "role"),
    ({"department": "sales"}, 422, "department"),
    ({"per_pgae": "10"}, 400, "per_pgae"),
])
def test_bad_query_parameters_name_the_field(client: FlaskClient, admin_token: str,
                                             query: dict[str, str], status: int,
                                             field: str) -> None:
    response = get(client, "/api/v1/users", admin_token, **query)
    assert response.status_code == status
    error = response.json["error"]
    assert error["field"] == field and field in error["message"]


def _events(app: Flask) -> None:
    with app.app_context():
        portal = current_portal()
        now = host_utcnow()
        for number, (name, state, age) in enumerate([
                ("ONCRMDEALADD", "done", 120), ("ONCRMDEALUPDATE", "failed", 60),
                ("ONTASKUPDATE", "pending", 5)]):
            db.session.add(InboxEvent(
                portal_id=portal.id, idempotency_key=f"api-{number}", event_name=name,
                source="webhook", entity_type="DEAL", entity_id=10 + number,
                payload={"event": name}, received_at=now - timedelta(minutes=age), state=state,
                attempts=0))
        db.session.commit()


def test_events_filters_and_order(app: Flask, client: FlaskClient, admin_token: str) -> None:
    _events(app)
    everything = get(client, "/api/v1/events", admin_token).json
    assert [e["event"] for e in everything["items"]] == [
        "ONTASKUPDATE", "ONCRMDEALUPDATE", "ONCRMDEALADD"]  # newest first
    assert everything["items"][0]["received_at"].endswith("Z")
    failed = get(client, "/api/v1/events", admin_token, state="failed").json["items"]
    assert [e["event"] for e in failed] == ["ONCRMDEALUPDATE"]
    named = get(client, "/api/v1/events", admin_token, event="oncrmdealadd").json["items"]
    assert [e["entity_id"] for e in named] == [10]
    since = (host_utcnow() - timedelta(minutes=90)).isoformat() + "+00:00"
    recent = get(client, "/api/v1/events", admin_token, since=since).json
    assert recent["total"] == 2
    bad = get(client, "/api/v1/events", admin_token, since="yesterday")
    assert bad.status_code == 422 and bad.json["error"]["field"] == "since"
    wrong_state = get(client, "/api/v1/events", admin_token, state="lost")
    assert wrong_state.status_code == 422 and wrong_state.json["error"]["field"] == "state"


def test_unknown_api_route_is_404_json(client: FlaskClient, admin_token: str) -> None:
    response = get(client, "/api/v1/nothing-here", admin_token)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert client.post("/api/v1/users", headers=bearer(admin_token)).status_code == 405


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_openapi_describes_every_api_route(app: Flask, client: FlaskClient) -> None:
    document = json_of(client.get("/api/v1/openapi.json"))
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")]
    assert len(rules) >= 3
    for rule in rules:
        operations = document["paths"].get(_openapi_path(rule.rule))
        assert operations is not None, f"{rule.rule} is not in openapi.json"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in operations, f"{method} {rule.rule} is not described"
    users = document["paths"]["/users"]["get"]
    assert {p["name"] for p in users["parameters"]} == {
        "active", "department", "role", "page", "per_page"}
    per_page = next(p for p in users["parameters"] if p["name"] == "per_page")
    assert per_page["schema"]["maximum"] == 100
    assert {p["name"] for p in document["paths"]["/events"]["get"]["parameters"]} == {
        "state", "event", "since", "page", "per_page"}
    assert users["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    for name in ("User", "Event", "UserPage", "EventPage", "Error"):
        assert name in document["components"]["schemas"]

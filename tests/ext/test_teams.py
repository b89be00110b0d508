"""Teams: managed by administrators on the pages and over the API; everyone may look."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from portal_ext.extensions import db
from portal_ext.notifications.models import Team
from simulator import Simulator
from tests.ext.fanout_support import (
    ADMIN,
    FEDOROV,
    GRIGORIEVA,
    NIKITINA,
    SMIRNOVA,
    add_lead,
    bearer,
    body,
    copies,
    freeze,
    record_team,
)

TEAM: dict[str, Any] = {"name": "Equipment sales", "kinds": ["new_lead", "incoming_email"],
        "members": [NIKITINA, FEDOROV]}


def _teams(app: Flask) -> list[tuple[str, list[str], list[int]]]:
    with app.app_context():
        return [(t.name, list(t.kinds), sorted(t.member_ids))
                for t in db.session.scalars(db.select(Team).order_by(Team.id))]


def test_an_administrator_creates_a_team_with_the_form_and_its_members_share_leads(
        app: Flask, client: FlaskClient, login_as: Any, demo_sim: Simulator,
        monday: datetime) -> None:
    login_as(client, "admin@demo.portal")
    form = client.get("/teams/new").get_data(as_text=True)
    assert "New lead" in form and "Ольга Никитина" in form

    answer = client.post("/teams/new", data={"name": "  Equipment   sales ",
                                             "kinds": ["new_lead"],
                                             "members": [str(NIKITINA), str(FEDOROV)]})
    assert answer.status_code == 302
    listing = client.get("/teams").get_data(as_text=True)
    assert "Equipment sales" in listing and "Алексей Фёдоров" in listing
    assert _teams(app) == [("Equipment sales", ["new_lead"], [NIKITINA, FEDOROV])]

    freeze(demo_sim, monday)
    add_lead(demo_sim, "Bulldozer", NIKITINA)
    [copy] = copies(demo_sim, FEDOROV)
    assert "команда «Equipment sales»" in copy["message"]  # the portal's language


def test_a_rejected_team_form_names_the_field_and_saves_nothing(
        app: Flask, client: FlaskClient, login_as: Any) -> None:
    login_as(client, "admin@demo.portal")
    answer = client.post("/teams/new", data={"name": "Solo", "kinds": ["new_lead"],
                                             "members": [str(NIKITINA)]})
    assert answer.status_code == 422
    assert "A team needs at least 2 members." in answer.get_data(as_text=True)
    answer = client.post("/teams/new", data={"name": "", "kinds": [],
                                             "members": [str(NIKITINA), str(FEDOROV)]})
    assert "Give the team a name." in answer.get_data(as_text=True)
    assert _teams(app) == []


def test_an_administrator_edits_and_deletes_a_team(
        app: Flask, client: FlaskClient, login_as: Any) -> None:
    team_id = record_team(app, **TEAM)
    login_as(client, "admin@demo.portal")
    form = client.get(f"/teams/{team_id}").get_data(as_text=True)
    assert 'value="Equipment sales"' in form

    client.post(f"/teams/{team_id}", data={"name": "Equipment", "kinds": ["comment"],
                                           "members": [str(FEDOROV), str(GRIGORIEVA)]})
    assert _teams(app) == [("Equipment", ["comment"], [FEDOROV, GRIGORIEVA])]
    assert client.post(f"/teams/{team_id}/delete").status_code == 302
    assert _teams(app) == []


def test_employees_see_teams_but_may_not_change_them(
        app: Flask, client: FlaskClient, login_as: Any) -> None:
    team_id = record_team(app, **TEAM)
    login_as(client, "o.nikitina@demo.portal")
    assert "Equipment sales" in client.get("/teams").get_data(as_text=True)
    assert client.get("/teams/new").status_code == 403
    assert client.post(f"/teams/{team_id}/delete").status_code == 403
    assert len(_teams(app)) == 1


def test_the_api_manages_teams(app: Flask, client: FlaskClient) -> None:
    admin = bearer(app, ADMIN)
    created = client.post("/api/v1/teams", headers=admin, json=TEAM)
    assert created.status_code == 201, created.get_data(as_text=True)
    team = body(created)
    assert (team["name"], team["kinds"], team["members"]) == (
        "Equipment sales", ["new_lead", "incoming_email"], [NIKITINA, FEDOROV])
    assert body(client.get(created.headers["Location"], headers=admin))["id"] == team["id"]

    changed = client.patch(f"/api/v1/teams/{team['id']}", headers=admin,
                           json={"members": [NIKITINA, FEDOROV, SMIRNOVA]})
    assert changed.status_code == 200 and body(changed)["members"] == [NIKITINA, FEDOROV,
                                                                        SMIRNOVA]
    everyone = body(client.get("/api/v1/teams", headers=bearer(app, SMIRNOVA)))
    assert [t["name"] for t in everyone["items"]] == ["Equipment sales"]

    assert client.delete(f"/api/v1/teams/{team['id']}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/teams/{team['id']}", headers=admin).status_code == 404


def test_the_api_rejects_bad_teams_naming_the_field(app: Flask, client: FlaskClient) -> None:
    admin = bearer(app, ADMIN)
    record_team(app, **TEAM)
    cases = [
        ({**TEAM, "name": "equipment SALES"}, 422, "name"),
        ({**TEAM, "name": "B", "kinds": ["gossip"]}, 422, "kinds"),
        ({**TEAM, "name": "C", "members": [NIKITINA, 999]}, 422, "members"),
        ({**TEAM, "name": "D", "members": [NIKITINA]}, 422, "members"),
        ({"name": "E", "kinds": ["new_lead"]}, 422, "members"),
        ({**TEAM, "name": "F", "colour": "red"}, 400, "colour"),
    ]
    for sent, status, field in cases:
        answer = client.post("/api/v1/teams", headers=admin, json=sent)
        assert (answer.status_code, body(answer)["error"]["field"]) == (status, field), sent
    assert len(_teams(app)) == 1

    employee = client.post("/api/v1/teams", headers=bearer(app, NIKITINA),
                           json={**TEAM, "name": "Mine"})
    assert employee.status_code == 403
    assert len(_teams(app)) == 1

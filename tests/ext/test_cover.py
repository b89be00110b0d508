"""The deputy's cover list: the absent user's activities and tasks due during the absence,
leads assigned to them since it began and incoming e-mails, each linked to its portal page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_ext.absences.cover import PortalLinks
from simulator import Simulator
from tests.ext.absences_support import (
    ADMIN,
    EMAILS,
    FEDOROV,
    GRIGORIEVA,
    SMIRNOVA,
    TORG_HEAD,
    freeze,
    iso,
    start_of_hour,
    token,
)
from tests.ext.oauth_login import LoginAs

pytestmark = pytest.mark.dated


@dataclass
class Scene:
    absence_id: int
    company_id: int
    listed: dict[str, set[int]]  # section -> ids that must be there
    unlisted: dict[str, set[int]]  # section -> ids that must not


def _activity(sim: Simulator, company: int, subject: str, *, type_id: int = 2,
              when: datetime | None = None, direction: int | None = None,
              completed: bool = False, responsible: int = FEDOROV) -> int:
    kind = "EMAIL" if type_id == 4 else "PHONE"
    fields: dict[str, object] = {
        "OWNER_TYPE_ID": 4, "OWNER_ID": company, "TYPE_ID": type_id, "SUBJECT": subject,
        "RESPONSIBLE_ID": responsible, "COMPLETED": "Y" if completed else "N",
        "COMMUNICATIONS": [{"VALUE": "client@example.com" if type_id == 4 else "+74950000000",
                            "ENTITY_TYPE_ID": 4, "ENTITY_ID": company, "TYPE": kind}]}
    if when is not None:
        fields["START_TIME"] = sim.to_portal_iso(when)
    if direction is not None:
        fields["DIRECTION"] = direction
    return int(sim.call("crm.activity.add", {"fields": fields})["result"])


def _task(sim: Simulator, title: str, deadline: datetime, *, status: int | None = None) -> int:
    fields: dict[str, object] = {"TITLE": title, "RESPONSIBLE_ID": FEDOROV,
                                 "DEADLINE": sim.to_portal_iso(deadline)}
    task = sim.call("tasks.task.add", {"fields": fields})["result"]["task"]
    if status is not None:
        sim.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": status}})
    return int(task["id"])


def _lead(sim: Simulator, title: str) -> int:
    return int(sim.call("crm.lead.add", {"fields": {"TITLE": title,
                                                    "ASSIGNED_BY_ID": FEDOROV}})["result"])


@pytest.fixture
def scene(app: Flask, client: FlaskClient, sim: Simulator) -> Scene:
    t0 = start_of_hour(sim)
    freeze(client, t0)
    company = int(sim.call("crm.company.list", {"filter": {"ASSIGNED_BY_ID": FEDOROV},
                                                "select": ["ID"]})["result"][0]["ID"])
    old_lead = _lead(sim, "Lead from before the absence")
    old_email = _activity(sim, company, "Mail from before", type_id=4, direction=1)
    freeze(client, t0 + timedelta(hours=2))
    # Fedorov is away from t0+1h for five days; Grigorieva covers.
    answer: Any = client.post("/api/v1/absences", headers=token(app, ADMIN), json={
        "user_id": FEDOROV, "start": iso(t0 + timedelta(hours=1)),
        "end": iso(t0 + timedelta(days=5, hours=1)), "deputy_id": GRIGORIEVA})
    assert answer.status_code == 201
    listed = {
        "activities": {_activity(sim, company, "Call back about the loader",
                                 when=t0 + timedelta(days=2))},
        "tasks": {_task(sim, "Prepare the offer", t0 + timedelta(days=3))},
        "leads": {_lead(sim, "New lead while away")},
        "emails": {_activity(sim, company, "Re: price list", type_id=4, direction=1)},
    }
    unlisted = {
        "activities": {_activity(sim, company, "Call after the return",
                                 when=t0 + timedelta(days=9)),
                       _activity(sim, company, "Call already made", when=t0 + timedelta(days=1),
                                 completed=True),
                       _activity(sim, company, "Smirnova's call", when=t0 + timedelta(days=1),
                                 responsible=SMIRNOVA)},
        "tasks": {_task(sim, "Task after the return", t0 + timedelta(days=12)),
                  _task(sim, "Task done", t0 + timedelta(days=2), status=5)},
        "leads": {old_lead},
        "emails": {old_email, _activity(sim, company, "Our offer", type_id=4, direction=2,
                                       completed=True)},
    }
    return Scene(int(answer.json["id"]), company, listed, unlisted)


def test_the_cover_list_holds_what_falls_to_the_deputy(app: Flask, client: FlaskClient,
                                                       scene: Scene) -> None:
    answer: Any = client.get(f"/api/v1/absences/{scene.absence_id}/cover",
                        headers=token(app, GRIGORIEVA))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["covered_by"] == GRIGORIEVA
    for section, wanted in scene.listed.items():
        ids = {item["id"] for item in body[section]}
        assert wanted <= ids, section
        assert not scene.unlisted[section] & ids, section
    assert body["total"] == sum(len(body[section]) for section in scene.listed)


def test_every_item_links_to_its_page_on_the_portal(app: Flask, client: FlaskClient,
                                                    scene: Scene) -> None:
    body: Any = client.get(f"/api/v1/absences/{scene.absence_id}/cover",
                      headers=token(app, GRIGORIEVA)).json
    portal = app.config["PORTAL_URL"].rstrip("/")
    [task_id] = scene.listed["tasks"]
    [lead_id] = scene.listed["leads"]
    links = {item["id"]: item["link"] for s in scene.listed for item in body[s]}
    assert links[task_id] == f"{portal}/portal/tasks/{task_id}"
    assert links[lead_id] == f"{portal}/portal/crm/leads/{lead_id}"
    [call_id] = scene.listed["activities"]
    assert links[call_id] == f"{portal}/portal/crm/companies/{scene.company_id}"
    # The links lead somewhere: the simulated portal's own pages answer.
    for link in (links[task_id], links[lead_id], links[call_id]):
        assert client.get(link.removeprefix(portal)).status_code == 200, link


def test_portal_url_patterns_in_rest_mode() -> None:
    links = PortalLinks("https://b24.example.ru", simulated=False)
    assert links.crm(1, 7) == "https://b24.example.ru/crm/lead/details/7/"
    assert links.crm(4, 3) == "https://b24.example.ru/crm/company/details/3/"
    assert links.task(12, 6) == "https://b24.example.ru/company/personal/user/6/tasks/task/view/12/"
    assert links.crm(99, 1) is None


def test_only_the_deputy_the_user_their_head_or_an_admin_read_it(
        app: Flask, client: FlaskClient, scene: Scene) -> None:
    path = f"/api/v1/absences/{scene.absence_id}/cover"
    for reader in (GRIGORIEVA, FEDOROV, TORG_HEAD, ADMIN):
        assert client.get(path, headers=token(app, reader)).status_code == 200, reader
    refused: Any = client.get(path, headers=token(app, SMIRNOVA))
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"


def test_the_cover_page_shows_the_list_with_links(
        app: Flask, client: FlaskClient, login_as: LoginAs, scene: Scene) -> None:
    login_as(client, EMAILS[GRIGORIEVA])
    page: Any = client.get(f"/absences/{scene.absence_id}/cover")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for title in ("Call back about the loader", "Prepare the offer", "New lead while away",
                  "Re: price list"):
        assert title in html
    for title in ("Call after the return", "Task done", "Lead from before the absence",
                  "Our offer"):
        assert title not in html
    [lead_id] = scene.listed["leads"]
    assert f'/portal/crm/leads/{lead_id}"' in html
    covering: Any = client.get("/absences/covering").get_data(as_text=True)
    assert f"/absences/{scene.absence_id}/cover" in covering

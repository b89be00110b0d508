"""A run that leaves items the portal refused says so: the state reads "undone, 5 failed",
not a green "undone"; the portal's words come without their HTML and, where the extension
knows the refusal, explained in the page's language; the failed items can be tried again."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator import Simulator
from tests.ext.absences_support import freeze, start_of_hour
from tests.ext.confirm_support import asked, confirmed, lines
from tests.ext.handover_support import owned_by, record_absence
from tests.ext.test_api import bearer, create_token
from tests.ext.transfers_support import FEDOROV, GRIGORIEVA, NIKITINA

pytestmark = pytest.mark.dated

ADMIN_EMAIL = "admin@demo.portal"


def post(client: FlaskClient, path: str, token: str, body: Any = None) -> Any:
    return client.post(path, headers=bearer(token), json=body if body is not None else {})


def get(client: FlaskClient, path: str, token: str) -> dict[str, Any]:
    answer = client.get(path, headers=bearer(token))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


def chip(page: str) -> str:
    found = re.search(r'<span class="badge ([^"]+)" id="batch-state"[^>]*>([^<]*)</span>', page)
    assert found is not None, page
    return f"{found.group(1)}|{found.group(2)}"


def test_an_undo_that_failed_for_some_items_says_so_and_retries_them(
        app: Flask, client: FlaskClient, demo_sim: Simulator, login_as: Any) -> None:
    token = create_token(app, ADMIN_EMAIL)
    tasks = {k for k in owned_by(demo_sim, GRIGORIEVA) if k[0] == "task"}
    assert tasks
    demo_sim.call("user.update", {"ID": GRIGORIEVA, "ACTIVE": "N"})
    created = post(client, "/api/v1/transfers", token, {
        "user_id": GRIGORIEVA, "strategy": "person", "successors": [FEDOROV],
        "types": ["deal", "task"]})
    assert created.status_code == 201, created.get_json()
    transfer = created.get_json()["id"]
    assert post(client, f"/api/v1/transfers/{transfer}/apply", token).status_code == 202

    # Undo: the portal takes the deals back, but gives no task to a dismissed user.
    assert post(client, f"/api/v1/transfers/{transfer}/undo", token).status_code == 202
    body = get(client, f"/api/v1/transfers/{transfer}", token)
    assert (body["state"], body["failed"]) == ("restored", len(tasks))
    failed = [p for p in body["problems"] if p["state"] == "failed"]
    assert {(p["entity_type"], p["entity_id"]) for p in failed} == tasks
    assert all("<" not in p["portal_message"] and p["portal_message"] for p in failed)
    assert all("dismissed" in p["why"] for p in failed)

    login_as(client, ADMIN_EMAIL)
    page = client.get(f"/transfers/{transfer}").get_data(as_text=True)
    assert chip(page) == f"badge-batch-partial|undone, {len(tasks)} failed"
    progress = client.get(f"/transfers/{transfer}/progress").get_json()
    assert (progress["status"], progress["heading"]) == (
        "finished_with_failures", f"The transfer was undone, {len(tasks)} failed")
    assert progress["figures"].endswith(f" given back · {len(tasks)} failed")
    assert f'id="progress-heading">The transfer was undone, {len(tasks)} failed<' in page
    assert 'id="retry-form"' in page and "&lt;br" not in page and "<br>" not in page
    assert f"undone, {len(tasks)} failed" in client.get("/transfers/").get_data(as_text=True)
    client.post("/language", data={"lang": "ru", "next": "/"})
    page = client.get(f"/transfers/{transfer}").get_data(as_text=True)
    assert chip(page) == f"badge-batch-partial|отменено, не удалось: {len(tasks)}"
    assert "уволен" in page  # the refusal explained in Russian

    # Re-hired: the retry gives the tasks back, and the state turns plain "undone".
    demo_sim.call("user.update", {"ID": GRIGORIEVA, "ACTIVE": "Y"})
    assert post(client, f"/api/v1/transfers/{transfer}/retry", token).status_code == 202
    body = get(client, f"/api/v1/transfers/{transfer}", token)
    assert (body["state"], body["failed"]) == ("restored", 0)
    assert tasks <= owned_by(demo_sim, GRIGORIEVA)
    again = post(client, f"/api/v1/transfers/{transfer}/retry", token)
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "conflict")


def test_a_give_back_that_failed_for_some_items_offers_a_retry_on_the_page(
        app: Flask, client: FlaskClient, demo_sim: Simulator, login_as: Any) -> None:
    t0 = start_of_hour(demo_sim)
    freeze(client, t0)
    token = create_token(app, ADMIN_EMAIL)
    tasks = {k for k in owned_by(demo_sim, NIKITINA) if k[0] == "task"}
    absence_id = record_absence(app, user=NIKITINA, deputy=FEDOROV,
                                start=t0 - timedelta(hours=1), end=t0 + timedelta(days=5))
    created = post(client, "/api/v1/handovers", token, {
        "absence_id": absence_id, "types": ["task"], "include_closed": True})
    handover = created.get_json()["id"]
    assert post(client, f"/api/v1/handovers/{handover}/apply", token).status_code == 202
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    assert post(client, f"/api/v1/handovers/{handover}/restore", token).status_code == 202
    body = get(client, f"/api/v1/handovers/{handover}", token)
    assert (body["state"], body["failed"]) == ("restored", len(tasks))

    login_as(client, ADMIN_EMAIL)
    page = client.get(f"/handovers/{handover}").get_data(as_text=True)
    assert chip(page) == f"badge-batch-partial|given back, {len(tasks)} failed"
    assert f'id="progress-heading">Given back, {len(tasks)} failed<' in page
    assert f"0 given back · {len(tasks)} failed" in page and 'id="retry-form"' in page
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "Y"})
    page, _fields = asked(client, f"/handovers/{handover}/retry")
    assert f"Try {len(tasks)} items again?" in lines(page)
    assert get(client, f"/api/v1/handovers/{handover}", token)["failed"] == len(tasks)
    confirmed(client, f"/handovers/{handover}/retry")
    body = get(client, f"/api/v1/handovers/{handover}", token)
    assert (body["state"], body["failed"]) == ("restored", 0)
    assert tasks <= owned_by(demo_sim, NIKITINA)

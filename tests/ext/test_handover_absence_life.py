"""A handover follows its absence: deleting or cutting short the absence settles the handover
(a preview is discarded, items with the deputy go back), and a handover confirmed before the
absence starts waits for the start unless the administrator asks for "now"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from portal_ext.absences.models import Absence
from portal_ext.extensions import db
from portal_ext.handover.tasks import handover_tick
from portal_ext.moves.models import MoveBatch, MoveItem
from simulator import Simulator
from tests.ext.absences_support import (
    ADMIN,
    EMAILS,
    FEDOROV,
    NIKITINA,
    freeze,
    iso,
)
from tests.ext.confirm_support import asked, confirmed, lines
from tests.ext.handover_support import owned_by, record_absence

pytestmark = pytest.mark.dated

TYPES = ["deal", "contact", "company"]


def preview(client: FlaskClient, auth: dict[str, str], absence_id: int) -> dict[str, Any]:
    answer = client.post("/api/v1/handovers", headers=auth,
                         json={"absence_id": absence_id, "types": TYPES, "include_closed": True})
    assert answer.status_code == 201, answer.get_json()
    body: dict[str, Any] = answer.get_json()
    return body


def state_of(client: FlaskClient, auth: dict[str, str], batch_id: int) -> Any:
    answer = client.get(f"/api/v1/handovers/{batch_id}", headers=auth)
    return answer.get_json()["state"] if answer.status_code == 200 else answer.status_code


def running_absence(app: Flask, t0: datetime) -> int:
    return record_absence(app, user=NIKITINA, deputy=FEDOROV, start=t0 - timedelta(hours=1),
                          end=t0 + timedelta(days=7))


# -- deleting or cutting short the absence ---------------------------------------------------
def test_deleting_an_absence_discards_its_preview_and_a_new_absence_starts_clean(
        app: Flask, client: FlaskClient, t0: datetime, admin: dict[str, str]) -> None:
    absence_id = running_absence(app, t0)
    shown = preview(client, admin, absence_id)

    assert client.delete(f"/api/v1/absences/{absence_id}", headers=admin).status_code == 204
    assert state_of(client, admin, shown["id"]) == 404
    with app.app_context():
        assert db.session.scalar(select(MoveItem.id).where(
            MoveItem.batch_id == shown["id"]).limit(1)) is None

    # The next absence (SQLite may give it the deleted one's id) has no handover of its own.
    again = running_absence(app, t0)
    fresh = preview(client, admin, again)
    assert fresh["owner_id"] == NIKITINA and fresh["absence_id"] == again


def test_deleting_an_absence_gives_back_what_was_handed_over(
        app: Flask, client: FlaskClient, demo_sim: Simulator, t0: datetime,
        admin: dict[str, str]) -> None:
    absence_id = running_absence(app, t0)
    hers = {key for key in owned_by(demo_sim, NIKITINA) if key[0] in TYPES}
    shown = preview(client, admin, absence_id)
    assert client.post(f"/api/v1/handovers/{shown['id']}/apply", headers=admin).status_code \
        == 202
    assert hers <= owned_by(demo_sim, FEDOROV)

    assert client.delete(f"/api/v1/absences/{absence_id}", headers=admin).status_code == 204
    assert hers <= owned_by(demo_sim, NIKITINA)
    body = client.get(f"/api/v1/handovers/{shown['id']}", headers=admin).get_json()
    assert body["state"] == "restored" and body["absence_id"] is None
    assert body["totals"]["restored"] == len(hers)


def test_ending_an_absence_now_gives_back_at_once(
        app: Flask, client: FlaskClient, demo_sim: Simulator, t0: datetime,
        admin: dict[str, str]) -> None:
    absence_id = running_absence(app, t0)
    hers = {key for key in owned_by(demo_sim, NIKITINA) if key[0] in TYPES}
    shown = preview(client, admin, absence_id)
    client.post(f"/api/v1/handovers/{shown['id']}/apply", headers=admin)
    assert hers <= owned_by(demo_sim, FEDOROV)

    answer = client.patch(f"/api/v1/absences/{absence_id}", headers=admin,
                          json={"end": iso(t0)})
    assert answer.status_code == 200, answer.get_json()
    assert state_of(client, admin, shown["id"]) == "restored"
    assert hers <= owned_by(demo_sim, NIKITINA)


def test_the_database_keeps_no_handover_pointing_at_a_deleted_absence(
        app: Flask, client: FlaskClient, t0: datetime, admin: dict[str, str]) -> None:
    absence_id = running_absence(app, t0)
    shown = preview(client, admin, absence_id)
    with app.app_context():  # even a delete that bypasses the extension's code
        db.session.execute(delete(Absence).where(Absence.id == absence_id))
        db.session.commit()
        batch = db.session.get(MoveBatch, shown["id"])
        assert batch is not None and batch.absence_id is None


# -- a handover of an absence that has not started -------------------------------------------
@pytest.fixture
def future_absence(app: Flask, t0: datetime) -> tuple[int, datetime]:
    start = t0 + timedelta(days=3)
    return record_absence(app, user=NIKITINA, deputy=FEDOROV, start=start,
                          end=start + timedelta(days=13)), start


def test_a_handover_of_a_future_absence_waits_for_its_start(
        app: Flask, client: FlaskClient, demo_sim: Simulator, t0: datetime,
        future_absence: tuple[int, datetime], admin: dict[str, str]) -> None:
    absence_id, start = future_absence
    hers = {key for key in owned_by(demo_sim, NIKITINA) if key[0] in TYPES}
    shown = preview(client, admin, absence_id)

    answer = client.post(f"/api/v1/handovers/{shown['id']}/apply", headers=admin)
    assert answer.status_code == 202 and answer.get_json()["state"] == "scheduled"
    with app.app_context():
        handover_tick()
    assert hers <= owned_by(demo_sim, NIKITINA)  # nothing moved before the absence

    freeze(client, start + timedelta(minutes=1))
    with app.app_context():
        handover_tick()
    assert state_of(client, admin, shown["id"]) == "applied"
    assert hers <= owned_by(demo_sim, FEDOROV)


def test_the_administrator_may_hand_over_a_future_absence_now(
        app: Flask, client: FlaskClient, demo_sim: Simulator,
        future_absence: tuple[int, datetime], admin: dict[str, str]) -> None:
    absence_id, _start = future_absence
    hers = {key for key in owned_by(demo_sim, NIKITINA) if key[0] in TYPES}
    shown = preview(client, admin, absence_id)
    bad = client.post(f"/api/v1/handovers/{shown['id']}/apply", headers=admin,
                      json={"start": "tomorrow"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "start"
    assert state_of(client, admin, shown["id"]) == "preview"

    answer = client.post(f"/api/v1/handovers/{shown['id']}/apply", headers=admin,
                         json={"start": "now"})
    assert answer.status_code == 202
    assert state_of(client, admin, shown["id"]) == "applied"
    assert hers <= owned_by(demo_sim, FEDOROV)


def test_the_page_says_when_a_waiting_handover_starts(
        app: Flask, client: FlaskClient, demo_sim: Simulator,
        future_absence: tuple[int, datetime], admin: dict[str, str], login_as: Any) -> None:
    absence_id, _start = future_absence
    shown = preview(client, admin, absence_id)
    login_as(client, EMAILS[ADMIN])
    page = client.get(f"/handovers/{shown['id']}").get_data(as_text=True)
    assert 'id="start-choice"' in page
    question, _ = asked(client, f"/handovers/{shown['id']}/apply", {"start": "absence_start"})
    assert "They move when the absence starts, on " in lines(question)
    assert state_of(client, admin, shown["id"]) == "preview"
    confirmed(client, f"/handovers/{shown['id']}/apply", {"start": "absence_start"})
    page = client.get(f"/handovers/{shown['id']}").get_data(as_text=True)
    assert "Will start on" in page and 'id="start-now-form"' in page
    assert "waiting for the absence" in page
    assert state_of(client, admin, shown["id"]) == "scheduled"

    question, _ = asked(client, f"/handovers/{shown['id']}/start-now")
    assert lines(question).startswith("Start now: hand over ")
    assert state_of(client, admin, shown["id"]) == "scheduled"
    confirmed(client, f"/handovers/{shown['id']}/start-now")
    assert state_of(client, admin, shown["id"]) == "applied"

"""The reconcile tick follows the portal's clock: absences become active and finished as
time passes (also after a gap in which no tick ran), and the deputy's temporary read access
is granted at the start and withdrawn at the end."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_ext import jobs
from simulator import SimError, Simulator
from tests.ext.absences_support import (
    ADMIN,
    FEDOROV,
    GRIGORIEVA,
    NIKITINA,
    SMIRNOVA,
    absence,
    freeze,
    grants,
    iso,
    tick,
    token,
)

pytestmark = pytest.mark.dated


def record(app: Flask, client: FlaskClient, start: datetime, end: datetime, *,
           user: int = FEDOROV, deputy: int | None = GRIGORIEVA,
           temporary_access: bool = False) -> int:
    answer: Any = client.post("/api/v1/absences", headers=token(app, ADMIN), json={
        "user_id": user, "start": iso(start), "end": iso(end), "deputy_id": deputy,
        "temporary_access": temporary_access})
    assert answer.status_code == 201, answer.json
    return int(answer.json["id"])


def test_absence_moves_planned_active_finished_with_the_portal_clock(
        app: Flask, client: FlaskClient, t0: datetime) -> None:
    absence_id = record(app, client, t0 + timedelta(days=1), t0 + timedelta(days=3))
    tick(app)
    assert absence(app, absence_id)["state"] == "planned"
    freeze(client, t0 + timedelta(days=1))
    tick(app)
    assert absence(app, absence_id)["state"] == "active"
    freeze(client, t0 + timedelta(days=3) - timedelta(seconds=1))
    tick(app)
    assert absence(app, absence_id)["state"] == "active"
    freeze(client, t0 + timedelta(days=3))
    tick(app)
    assert absence(app, absence_id)["state"] == "finished"


def test_a_start_that_passed_while_no_tick_ran_is_caught_up(
        app: Flask, client: FlaskClient, t0: datetime) -> None:
    running = record(app, client, t0 + timedelta(hours=2), t0 + timedelta(days=10))
    over = record(app, client, t0 + timedelta(hours=3), t0 + timedelta(hours=20),
                  user=NIKITINA)
    # The service was down for two days: no tick saw either start.
    freeze(client, t0 + timedelta(days=2))
    counts = tick(app)
    assert absence(app, running)["state"] == "active"
    assert absence(app, over)["state"] == "finished"
    assert (counts["started"], counts["finished"]) == (1, 1)
    again = tick(app)
    assert (again["started"], again["finished"], again["planned"]) == (0, 0, 0)


def test_moving_an_absence_later_sends_it_back_to_planned(
        app: Flask, client: FlaskClient, t0: datetime) -> None:
    absence_id = record(app, client, t0 - timedelta(hours=1), t0 + timedelta(days=1))
    assert absence(app, absence_id)["state"] == "active"
    answer: Any = client.patch(f"/api/v1/absences/{absence_id}", headers=token(app, ADMIN),
                          json={"start": iso(t0 + timedelta(days=5)),
                                "end": iso(t0 + timedelta(days=6))})
    assert answer.status_code == 200 and answer.json["state"] == "planned"


def test_the_periodic_tick_runs_with_the_other_periodic_jobs(
        app: Flask, client: FlaskClient, t0: datetime) -> None:
    absence_id = record(app, client, t0 + timedelta(minutes=30), t0 + timedelta(days=1))
    freeze(client, t0 + timedelta(hours=1))
    with app.app_context():
        jobs.run_periodic()
    assert absence(app, absence_id)["state"] == "active"


def test_temporary_access_is_granted_at_the_start_and_withdrawn_at_the_end(
        app: Flask, client: FlaskClient, sim: Simulator, t0: datetime) -> None:
    absence_id = record(app, client, t0 + timedelta(days=1), t0 + timedelta(days=2),
                        temporary_access=True)
    tick(app)
    assert grants(sim) == set()
    freeze(client, t0 + timedelta(days=1, hours=1))
    tick(app)
    assert grants(sim) == {(GRIGORIEVA, FEDOROV)}
    assert absence(app, absence_id)["access_user_id"] == GRIGORIEVA
    tick(app)  # nothing to do twice
    assert grants(sim) == {(GRIGORIEVA, FEDOROV)}
    freeze(client, t0 + timedelta(days=2))
    tick(app)
    assert grants(sim) == set()
    assert absence(app, absence_id)["access_granted"] is False


def test_access_follows_the_cover_and_goes_when_the_absence_is_deleted(
        app: Flask, client: FlaskClient, sim: Simulator, t0: datetime) -> None:
    absence_id = record(app, client, t0 - timedelta(hours=1), t0 + timedelta(days=5),
                        temporary_access=True)
    tick(app)
    assert grants(sim) == {(GRIGORIEVA, FEDOROV)}
    # Grigorieva goes away too and names Smirnova: the access moves along the chain.
    record(app, client, t0 + timedelta(days=1), t0 + timedelta(days=2), user=GRIGORIEVA,
           deputy=SMIRNOVA)
    freeze(client, t0 + timedelta(days=1, hours=1))
    tick(app)
    assert grants(sim) == {(SMIRNOVA, FEDOROV)}
    deleted: Any = client.delete(f"/api/v1/absences/{absence_id}", headers=token(app, ADMIN))
    assert deleted.status_code == 204
    assert grants(sim) == set()


def test_access_not_asked_for_is_never_granted(app: Flask, client: FlaskClient,
                                               sim: Simulator, t0: datetime) -> None:
    absence_id = record(app, client, t0 - timedelta(hours=1), t0 + timedelta(days=1))
    tick(app)
    assert grants(sim) == set()
    client.patch(f"/api/v1/absences/{absence_id}", headers=token(app, ADMIN),
                 json={"temporary_access": True})
    tick(app)
    assert grants(sim) == {(GRIGORIEVA, FEDOROV)}
    client.patch(f"/api/v1/absences/{absence_id}", headers=token(app, ADMIN),
                 json={"temporary_access": False})
    tick(app)
    assert grants(sim) == set()


def test_the_portals_grant_methods_refuse_bad_input_and_non_administrators(
        demo_sim: Simulator) -> None:
    sim = demo_sim
    cases: list[tuple[dict[str, object], int, str]] = [
        ({"USER_ID": 999, "OWNER_ID": FEDOROV}, ADMIN, "User 999 not found"),
        ({"USER_ID": FEDOROV, "OWNER_ID": FEDOROV}, ADMIN, "own items"),
        ({"USER_ID": GRIGORIEVA, "OWNER_ID": FEDOROV, "ACCESS": "write"}, ADMIN, "read"),
        ({"USER_ID": GRIGORIEVA, "OWNER_ID": FEDOROV}, NIKITINA, "Access denied")]
    for params, caller, words in cases:
        with pytest.raises(SimError) as refused:
            sim.call("crm.access.grant", params, user_id=caller)
        assert words in refused.value.description
    assert grants(sim) == set()
    assert sim.call("crm.access.revoke", {"USER_ID": GRIGORIEVA,
                                          "OWNER_ID": FEDOROV})["result"] is False

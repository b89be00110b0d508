"""Stage robots in REST mode: the extension reaches the simulated portal over HTTP and gets its
events (ids only) by webhook; entries are read from the portal's stage history, so a quick
S -> A -> S fires for each entry, and replayed events, reordered reads and the catch-up create
each task exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portal_ext.context import for_portal
from portal_ext.portal.registration import current_portal
from portal_ext.robots import services
from tests.ext.fanout_support import NIKITINA, freeze
from tests.ext.test_api import ADMIN, bearer, create_token
from tests.ext.test_fanout_rest_mode import RestSetup, _settled, rest  # noqa: F401
from tests.ext.test_robots import move, portal_calendar, tasks_of

pytestmark = pytest.mark.dated


def test_over_rest_each_stage_entry_makes_its_task_exactly_once(
        rest: RestSetup, monday: datetime) -> None:  # noqa: F811
    sim, app = rest.sim, rest.app
    client = app.test_client()
    admin = bearer(create_token(app, ADMIN))
    entered = monday + timedelta(hours=7, minutes=30)  # Monday 17:30 portal time
    freeze(sim, entered)
    made = client.post("/api/v1/stage-robots", headers=admin, json={
        "entity": "lead", "status_id": "IN_PROCESS", "title": "Call back {TITLE}",
        "deadline_hours": 4, "policy": "locked"})
    assert made.status_code == 201, made.get_json()
    lead = sim.call("crm.lead.add", {"fields": {"TITLE": "Rest lead", "STATUS_ID": "NEW",
                                                "ASSIGNED_BY_ID": NIKITINA}})["result"]
    move(sim, lead, "IN_PROCESS")
    _settled(sim)
    [task] = tasks_of(sim, lead)
    assert int(task["responsibleId"]) == NIKITINA and task["ufCrmTask"] == [f"L_{lead}"]
    assert sim.to_portal_iso(portal_calendar(sim).add_hours(entered, 4)) == task["deadline"]
    assert task["allowChangeDeadline"] == "N"

    # S -> A -> S in the same second: the item looks unchanged when re-read late, and the
    # second event is the first's twin (same id, same time), but the stage history holds the
    # second entry: the next read of it (here the periodic catch-up) fires it.
    move(sim, lead, "PROCESSED")
    move(sim, lead, "IN_PROCESS")
    _settled(sim)
    with app.app_context():
        ctx = for_portal(current_portal())
        services.catch_up(ctx)
        assert len(tasks_of(sim, lead)) == 2
        # Replayed and reordered events, and the catch-up again: nothing twice.
        for _ in range(2):
            services.on_item_event(ctx, entity="lead", item_id=lead)
        assert services.catch_up(ctx)["lead"] == 0  # the cursor moved on
    assert len(tasks_of(sim, lead)) == 2
    runs = client.get(f"/api/v1/stage-robots/runs?item={lead}", headers=admin).get_json()
    assert [r["entry"][0] for r in runs["items"]] == ["h", "h"]
    assert {r["outcome"] for r in runs["items"]} == {"created"}

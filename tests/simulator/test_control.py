"""The control plane at /_sim/: reset, seed, clock, inboxes, settings, ticks, deliveries."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from simulator import SimEvent, Simulator
from simulator.core import tables as core_tables
from simulator.crm import tables as crm_tables
from simulator.users import tables as users_tables
from simulator.web import create_app
from tests.conftest import require
from tests.simulator.http_support import WEBHOOK, add_admin, add_user, probe_methods


@pytest.fixture
def client(sim: Simulator) -> Iterator[FlaskClient]:
    add_admin(sim)
    with probe_methods():
        yield create_app(sim, control_token="").test_client()


def count(sim: Simulator, table: Any) -> int:
    with sim.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def assert_bad_field(response: Any, field: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "INVALID_ARG_VALUE"
    assert body["field"] == field


# -- reset and seed -------------------------------------------------------------------------------
def test_reset_empties_the_portal_but_keeps_registered_applications(client: FlaskClient,
                                                                    sim: Simulator) -> None:
    token = sim.register_app("ext", "secret", "http://ext.local/cb")
    add_user(sim, 2, "two@test.portal")
    response = client.post("/_sim/reset")
    assert response.get_json() == {"result": True}
    assert count(sim, users_tables.users) == 0
    assert sim.register_app("ext", "secret", "http://ext.local/cb") == token
    assert count(sim, core_tables.apps) == 1


def test_seed_refuses_bad_input_and_changes_nothing(client: FlaskClient, sim: Simulator) -> None:
    assert_bad_field(client.post("/_sim/seed", json={"fixture": 7}), "fixture")
    assert_bad_field(client.post("/_sim/seed", json={"fixture": "atlantis"}), "fixture")
    assert_bad_field(client.post("/_sim/seed", json={}), "fixture")
    assert_bad_field(client.post("/_sim/seed", json={"companies": -5}), "companies")
    assert_bad_field(client.post("/_sim/seed", json={"companies": "many"}), "companies")
    assert_bad_field(client.post("/_sim/seed", json={"planets": 3}), "planets")
    assert_bad_field(client.post("/_sim/seed", data="not json",
                                 content_type="application/json"), "body")
    assert count(sim, crm_tables.crm_items) == 0
    assert count(sim, users_tables.users) == 1


def test_seed_loads_the_demo_portal(client: FlaskClient, sim: Simulator) -> None:
    require(importlib.util.find_spec("simulator.scenarios.demo") is not None,
            "the demo fixture (simulator.scenarios.demo) is not installed")
    client.post("/_sim/reset")
    response = client.post("/_sim/seed", json={"fixture": "demo"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert count(sim, users_tables.users) >= 10
    assert count(sim, crm_tables.crm_items) > 100


def test_seed_generates_a_portal_of_the_asked_size(client: FlaskClient, sim: Simulator) -> None:
    require(importlib.util.find_spec("simulator.scenarios.generator") is not None,
            "the generator (simulator.scenarios.generator) is not installed")
    client.post("/_sim/reset")
    sizes = {"companies": 4, "contacts_per_company": 1, "activities": 12, "leads": 3,
             "deals": 2, "tasks": 2, "users": 3, "seed": 11}
    response = client.post("/_sim/seed", json=sizes)
    assert response.status_code == 200, response.get_data(as_text=True)
    with sim.engine.connect() as conn:
        companies = conn.execute(select(func.count()).select_from(crm_tables.crm_items)
                                 .where(crm_tables.crm_items.c.entity_type_id == 4)).scalar_one()
    assert companies == 4
    assert count(sim, crm_tables.activities) == 12
    assert_bad_field(client.post("/_sim/seed", json={"companies": 2, "progress": True}),
                     "progress")


# -- clock ---------------------------------------------------------------------------------------
def test_clock_freezes_advances_and_unfreezes(client: FlaskClient) -> None:
    assert client.get("/_sim/clock").get_json()["frozen"] is False
    frozen = client.post("/_sim/clock", json={"now": "2026-03-02T09:30:00+03:00"}).get_json()
    assert frozen == {"now": "2026-03-02T09:30:00+03:00", "frozen": True}
    # the REST answers follow the portal's clock
    assert client.get(WEBHOOK + "probe.echo").get_json()["time"]["date_start"] == \
        "2026-03-02T09:30:00+03:00"
    moved = client.post("/_sim/clock", json={"advance_seconds": 3600}).get_json()
    assert moved == {"now": "2026-03-02T10:30:00+03:00", "frozen": True}
    local = client.post("/_sim/clock", json={"now": "2026-03-05 08:00"}).get_json()
    assert local["now"] == "2026-03-05T08:00:00+03:00"  # no offset means the portal's zone
    running = client.post("/_sim/clock", json={"frozen": False}).get_json()
    assert running["frozen"] is False
    assert not running["now"].startswith("2026-03-05T08:00")


@pytest.mark.parametrize(("body", "field"), [
    ({"now": "next tuesday"}, "now"),
    ({"now": 12}, "now"),
    ({"advance_seconds": "soon"}, "advance_seconds"),
    ({"now": "2026-01-01T00:00:00Z", "advance_seconds": 5}, "advance_seconds"),
    ({"frozen": "yes"}, "frozen"),
    ({"speed": 2}, "speed"),
    ({}, "now"),
])
def test_clock_refuses_bad_input_and_stays_put(client: FlaskClient, body: dict[str, Any],
                                               field: str) -> None:
    before = client.post("/_sim/clock", json={"now": "2026-03-02T09:30:00+03:00"}).get_json()
    assert_bad_field(client.post("/_sim/clock", json=body), field)
    assert client.get("/_sim/clock").get_json() == before


# -- inboxes and deliveries ----------------------------------------------------------------------
def test_inbox_lists_a_users_notifications_newest_first(client: FlaskClient,
                                                        sim: Simulator) -> None:
    add_user(sim, 3, "three@test.portal")
    sim.clock.set(sim.clock.now())
    for n in range(3):
        with sim.transaction() as ctx:
            ctx.notify(3, f"message {n}", kind="crm_assigned", entity_type="LEAD",
                       entity_id=10 + n)
        sim.clock.advance(60)
    with sim.transaction() as ctx:
        ctx.notify(1, "for the admin")
    items = client.get("/_sim/inbox/3").get_json()["result"]
    assert [item["message"] for item in items] == ["message 2", "message 1", "message 0"]
    assert items[0]["kind"] == "crm_assigned" and items[0]["entity_id"] == 12
    assert items[0]["created_at"].endswith("+03:00")
    assert len(client.get("/_sim/inbox/3?limit=2").get_json()["result"]) == 2
    assert client.get("/_sim/inbox/99").status_code == 404
    assert_bad_field(client.get("/_sim/inbox/3?limit=0"), "limit")
    assert_bad_field(client.get("/_sim/inbox/3?limit=lots"), "limit")


def test_webhooks_shows_recent_outbound_deliveries(client: FlaskClient, sim: Simulator) -> None:
    with sim.engine.begin() as conn:  # a handler nobody listens on (the discard port)
        conn.execute(core_tables.event_handlers.insert().values(
            event="ONCRMLEADADD", handler="http://127.0.0.1:9/hook", auth_type=0,
            event_type="online", application_token="apptoken"))
    sim.bus.publish([SimEvent(name="ONCRMLEADADD", data={"FIELDS": {"ID": "5"}}, ts=0)])
    assert sim.bus.flush(timeout=10)
    deliveries = client.get("/_sim/webhooks").get_json()["result"]
    assert deliveries[0]["url"] == "http://127.0.0.1:9/hook"
    assert deliveries[0]["event"] == "ONCRMLEADADD"
    assert "error" in deliveries[0]


# -- settings and ticks --------------------------------------------------------------------------
def test_settings_turn_rate_limiting_on_and_off(client: FlaskClient) -> None:
    answer = client.post("/_sim/settings",
                         json={"rate_limit": {"enabled": True, "x": 2, "y": 0.01}}).get_json()
    assert answer["rate_limit"]["enabled"] is True and answer["rate_limit"]["x"] == 2
    statuses = [client.get(WEBHOOK + "probe.echo").status_code for _ in range(3)]
    assert statuses == [200, 200, 503]
    client.post("/_sim/settings", json={"rate_limit": {"enabled": False}})
    assert client.get(WEBHOOK + "probe.echo").status_code == 200


def test_settings_change_the_portal_time_zone(client: FlaskClient) -> None:
    client.post("/_sim/clock", json={"now": "2026-03-02T09:30:00Z"})
    assert client.post("/_sim/settings", json={"timezone": "Europe/Berlin"}).status_code == 200
    assert client.get(WEBHOOK + "probe.echo").get_json()["time"]["date_start"] == \
        "2026-03-02T10:30:00+01:00"


@pytest.mark.parametrize(("body", "field"), [
    ({"rate_limit": {"enabled": "on"}}, "rate_limit.enabled"),
    ({"rate_limit": {"enabled": True, "x": 0}}, "rate_limit.x"),
    ({"rate_limit": {"enabled": True, "y": -1}}, "rate_limit.y"),
    ({"rate_limit": {"enabled": True, "z": 1}}, "z"),
    ({"rate_limit": True}, "rate_limit"),
    ({"timezone": "Mars/Olympus_Mons", "rate_limit": {"enabled": True}}, "timezone"),
    ({"colour": "blue"}, "colour"),
])
def test_settings_refuse_bad_input_and_change_nothing(client: FlaskClient,
                                                      body: dict[str, Any], field: str) -> None:
    before = client.get("/_sim/settings").get_json()
    assert_bad_field(client.post("/_sim/settings", json=body), field)
    assert client.get("/_sim/settings").get_json() == before


def test_tick_runs_the_portals_time_driven_work_when_it_exists(client: FlaskClient) -> None:
    response = client.post("/_sim/tick")
    if importlib.util.find_spec("simulator.ticks") is None:
        assert response.status_code == 501
        assert response.get_json()["error"] == "NOT_AVAILABLE"
    else:
        assert response.status_code == 200
        assert "result" in response.get_json()


# -- the guard -----------------------------------------------------------------------------------
def test_control_token_guards_every_control_call(sim: Simulator,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    add_admin(sim)
    monkeypatch.setenv("PORTAL_SIM_CONTROL_TOKEN", "webhook")
    guarded = create_app(sim).test_client()
    refused = guarded.post("/_sim/reset")
    assert refused.status_code == 401 and refused.get_json()["field"] == "token"
    assert guarded.get("/_sim/clock", headers={"X-Sim-Token": "wrong"}).status_code == 401
    assert count(sim, users_tables.users) == 1
    assert guarded.get("/_sim/clock", headers={"X-Sim-Token": "testtoken"}).status_code == 200
    assert guarded.get("/_sim/clock?token=testtoken").status_code == 200

    own = create_app(sim, control_token="s3cret").test_client()
    assert own.get("/_sim/clock?token=testtoken").status_code == 401
    assert own.get("/_sim/clock", headers={"X-Sim-Token": "s3cret"}).status_code == 200



def test_a_server_beyond_loopback_guards_the_control_plane_with_a_kept_token(
        sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.web.control import guard_beyond_loopback

    add_admin(sim)
    monkeypatch.delenv("PORTAL_SIM_CONTROL_TOKEN", raising=False)
    local = create_app(sim)
    assert guard_beyond_loopback(local, "127.0.0.1") is None  # loopback stays open
    assert local.test_client().get("/_sim/clock").status_code == 200

    app = create_app(sim)
    token = guard_beyond_loopback(app, "0.0.0.0")
    assert token and len(token) >= 24
    anyone = app.test_client()
    settings = anyone.get("/_sim/settings")
    assert settings.status_code == 401 and "rest/1/" not in settings.get_data(as_text=True)
    assert anyone.post("/_sim/seed", json={"fixture": "demo"}).status_code == 401
    assert anyone.post("/_sim/reset").status_code == 401
    assert anyone.post("/_sim/clock", json={"advance_seconds": 3600}).status_code == 401
    assert count(sim, users_tables.users) == 1 and not sim.clock.describe()["frozen"]
    bearer = anyone.get("/_sim/settings", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200 and bearer.get_json()["webhook_url"].endswith("/testtoken/")
    assert anyone.get("/_sim/clock", headers={"X-Sim-Token": token}).status_code == 200

    sim.reset()  # kept with the portal, like the webhook token: a restart prints the same one
    assert guard_beyond_loopback(create_app(sim), "192.0.2.7") == token
    monkeypatch.setenv("PORTAL_SIM_CONTROL_TOKEN", "chosen")  # a configured one wins
    assert guard_beyond_loopback(create_app(sim), "::") == "chosen"
    assert guard_beyond_loopback(create_app(sim), "localhost") == "chosen"


def test_unknown_control_paths_answer_json(client: FlaskClient) -> None:
    response = client.get("/_sim/nothing")
    assert response.status_code == 404
    assert response.get_json()["error"] == "NOT_FOUND"
    assert client.get("/_sim/reset").status_code == 405


def test_a_time_zone_change_reaches_another_process_on_the_same_database(
        client: FlaskClient, sim: Simulator) -> None:
    from datetime import datetime

    sim.clock.set(datetime(2026, 3, 2, 9, 0))
    other = Simulator(sim.database_url)  # a second server process, say
    other.TZ_CACHE_SECONDS = 0  # it reads the zone again on every call
    try:
        assert other.call("server.time")["result"] == "2026-03-02T12:00:00+03:00"
        assert client.post("/_sim/settings", json={"timezone": "Europe/Berlin"}).status_code \
            == 200
        assert other.call("server.time")["result"] == "2026-03-02T10:00:00+01:00"
    finally:
        sim.settings.set("timezone", "Europe/Moscow")  # a shared database remembers it
        other.engine.dispose()


def test_a_users_own_webhook_acts_as_them_and_needs_the_control_token(
        sim: Simulator) -> None:
    add_admin(sim)
    add_user(sim, 2, "two@test.portal")
    add_user(sim, 3, "gone@test.portal", active=False)
    guarded = create_app(sim, control_token="s3cret").test_client()
    assert guarded.post("/_sim/users/2/webhook").status_code == 401
    key = {"X-Sim-Token": "s3cret"}
    url = guarded.post("/_sim/users/2/webhook", headers=key).get_json()["url"]
    assert url.startswith("http://localhost/rest/2/") and url.endswith("/")
    assert guarded.post("/_sim/users/2/webhook", headers=key).get_json()["url"] == url
    me = guarded.post(url.removeprefix("http://localhost") + "user.current").get_json()
    assert me["result"]["ID"] == "2"
    for user, status in ((3, 400), (99, 404)):
        refused = guarded.post(f"/_sim/users/{user}/webhook", headers=key)
        assert refused.status_code == status and refused.get_json()["field"] == "user_id"
    assert guarded.get("/_sim/tasks/roles", headers=key).get_json()["head"] == {
        "responsible_may_edit": False}

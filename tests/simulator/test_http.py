"""The REST endpoint over HTTP: transports, envelopes, errors, authentication, rate limiting."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest
from flask.testing import FlaskClient

from simulator import Simulator
from simulator.core import phpquery
from simulator.core.ratelimit import limits_for
from simulator.users import tables as users_tables
from simulator.web import create_app
from tests.simulator.http_support import (
    WEBHOOK,
    FakeMonotonic,
    add_admin,
    add_user,
    probe_methods,
)


@pytest.fixture
def client(sim: Simulator) -> Iterator[FlaskClient]:
    add_admin(sim)
    with probe_methods():
        yield create_app(sim).test_client()


# -- PHP-style parameters -----------------------------------------------------------------------
def test_php_query_nests_keys_and_makes_lists_only_of_zero_based_runs() -> None:
    parsed = phpquery.parse(
        "FILTER[ACTIVE]=true&select[]=ID&select[]=NAME&filter[%3E%3DDATE_CREATE]=2026-01-01"
        "&a[b][0]=x&a[b][1]=y&sparse[1]=one&sparse[0]=zero&order[]=&plus=a+b%2Bc")
    assert parsed == {
        "FILTER": {"ACTIVE": "true"}, "select": ["ID", "NAME"],
        "filter": {">=DATE_CREATE": "2026-01-01"}, "a": {"b": ["x", "y"]},
        "sparse": {"1": "one", "0": "zero"}, "order": [], "plus": "a b+c",
    }


def test_php_query_build_is_the_inverse_of_parse() -> None:
    params = {"filter": {">=DATE": "2026-01-01 10:00", "@ID": ["1", "2"]}, "select": ["ID"],
              "fields": {"TITLE": "R&D + QA = 100%", "EMAIL": [{"VALUE": "a@b.c"}]}}
    assert phpquery.parse(phpquery.build(params)) == params


def test_later_scalar_replaces_earlier_array_as_php_does() -> None:
    assert phpquery.parse("a[x]=1&a=2&b=1&b[y]=2") == {"a": "2", "b": {"y": "2"}}


# -- envelopes and transports -------------------------------------------------------------------
def test_success_envelope_has_result_and_the_time_block(client: FlaskClient,
                                                        sim: Simulator) -> None:
    sim.clock.set(datetime(2026, 3, 2, 9, 0, 0))
    response = client.get(WEBHOOK + "probe.echo?x=1")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["result"] == {"params": {"x": "1"}, "user_id": 1}
    time = body["time"]
    assert set(time) == {"start", "finish", "duration", "processing", "date_start",
                         "date_finish", "operating_reset_at", "operating"}
    assert time["date_start"] == "2026-03-02T12:00:00+03:00"  # portal time, Moscow offset
    assert time["finish"] >= time["start"]
    assert time["operating_reset_at"] > time["start"]


def test_list_methods_carry_total_and_next_at_the_top_level(client: FlaskClient) -> None:
    first = client.get(WEBHOOK + "probe.page").get_json()
    assert (len(first["result"]), first["total"], first["next"]) == (50, 120, 50)
    last = client.get(WEBHOOK + "probe.page?start=100").get_json()
    assert len(last["result"]) == 20
    assert "next" not in last


@pytest.mark.parametrize("transport", ["query", "form", "multipart", "json"])
def test_every_transport_delivers_the_same_nested_parameters(client: FlaskClient,
                                                             transport: str) -> None:
    params = {"filter": {">=DATE_CREATE": "2026-01-01", "ASSIGNED_BY_ID": "3"},
              "select": ["ID", "TITLE"]}
    url = WEBHOOK + "probe.echo"
    if transport == "query":
        response = client.get(f"{url}?{phpquery.build(params)}")
    elif transport == "form":
        response = client.post(url, data=phpquery.build(params),
                               content_type="application/x-www-form-urlencoded")
    elif transport == "multipart":
        fields = dict(pair.split("=", 1) for pair in phpquery.build(params).split("&"))
        from urllib.parse import unquote
        response = client.post(url, data={unquote(k): unquote(v) for k, v in fields.items()},
                               content_type="multipart/form-data")
    else:
        response = client.post(url, json=params)
    assert response.status_code == 200
    assert response.get_json()["result"]["params"] == params


def test_body_parameters_override_the_query_string(client: FlaskClient) -> None:
    response = client.post(WEBHOOK + "probe.echo?id=1&keep=yes", json={"id": 2})
    assert response.get_json()["result"]["params"] == {"id": 2, "keep": "yes"}


def test_method_names_fold_case_and_accept_the_json_suffix(client: FlaskClient) -> None:
    for name in ("PROBE.Echo", "probe.echo.json", "Probe.ECHO.JSON"):
        response = client.post(WEBHOOK + name, json={"n": 1})
        assert response.status_code == 200, name
        assert response.get_json()["result"]["params"] == {"n": 1}


def test_xml_transport_is_refused_in_json(client: FlaskClient) -> None:
    response = client.get(WEBHOOK + "probe.echo.xml")
    assert response.status_code == 400
    assert response.get_json()["error"] == "INVALID_REQUEST"


# -- errors ---------------------------------------------------------------------------------------
def test_wrong_webhook_token_or_user_is_401_no_auth_found(client: FlaskClient) -> None:
    for url in ("/rest/1/wrongtoken/probe.echo", "/rest/2/testtoken/probe.echo"):
        response = client.get(url)
        assert response.status_code == 401
        assert response.get_json() == {"error": "NO_AUTH_FOUND",
                                       "error_description": "Wrong authorization data"}


def test_dismissed_webhook_owner_is_refused(client: FlaskClient, sim: Simulator) -> None:
    with sim.engine.begin() as conn:
        conn.execute(users_tables.users.update().where(users_tables.users.c.id == 1)
                     .values(active=False))
    response = client.get(WEBHOOK + "probe.echo")
    assert response.status_code == 401
    assert response.get_json()["error"] == "NO_AUTH_FOUND"


def test_oauth_endpoint_without_or_with_a_bad_token(client: FlaskClient) -> None:
    missing = client.get("/rest/probe.echo")
    assert (missing.status_code, missing.get_json()["error"]) == (401, "NO_AUTH_FOUND")
    wrong = client.post("/rest/probe.echo.json", json={"auth": "nope"})
    assert (wrong.status_code, wrong.get_json()["error"]) == (401, "invalid_token")


def test_unknown_method_is_404_method_not_found(client: FlaskClient) -> None:
    response = client.get(WEBHOOK + "crm.nothing.here")
    assert response.status_code == 404
    assert response.get_json() == {"error": "ERROR_METHOD_NOT_FOUND",
                                   "error_description": "Method not found!"}
    assert client.get(WEBHOOK).status_code == 404
    assert client.get(WEBHOOK).get_json()["error"] == "ERROR_METHOD_NOT_FOUND"


def test_handler_errors_keep_their_code_and_status(client: FlaskClient) -> None:
    response = client.get(WEBHOOK + "probe.fail?code=&status=400")
    assert response.status_code == 400
    assert response.get_json() == {"error": "", "error_description": "Access denied!"}
    forbidden = client.get(WEBHOOK + "probe.fail")
    assert (forbidden.status_code, forbidden.get_json()["error"]) == (403, "ACCESS_DENIED")


@pytest.mark.parametrize("body", ["{\"filter\": ", "\"text\"", "42"])
def test_malformed_json_is_400_in_the_portal_shape(client: FlaskClient, body: str) -> None:
    response = client.post(WEBHOOK + "probe.echo", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "INVALID_REQUEST"
    assert set(response.get_json()) == {"error", "error_description"}


def test_a_json_array_body_is_positional_parameters(client: FlaskClient) -> None:
    response = client.post(WEBHOOK + "probe.echo", json=[7, {"POST_MESSAGE": "Hi"}])
    assert response.status_code == 200
    assert response.get_json()["result"]["params"] == {"0": 7, "1": {"POST_MESSAGE": "Hi"}}


def test_unexpected_failure_is_500_and_logged(client: FlaskClient,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="simulator.web.rest"):
        response = client.get(WEBHOOK + "probe.crash")
    assert response.status_code == 500
    assert response.get_json() == {"error": "INTERNAL_SERVER_ERROR",
                                   "error_description": "Internal server error"}
    assert "probe crashed" in caplog.text


def test_answers_keep_the_handlers_key_order(client: FlaskClient) -> None:
    raw = client.post(WEBHOOK + "probe.echo", data='{"z": 1, "a": 2}',
                      content_type="application/json").get_data(as_text=True)
    assert raw.index('"z"') < raw.index('"a"')
    assert list(json.loads(raw)) == ["result", "time"]


def test_calls_run_as_the_webhook_user(client: FlaskClient, sim: Simulator) -> None:
    add_user(sim, 5, "five@test.portal")
    with sim.engine.begin() as conn:
        conn.execute(users_tables.users.update().where(users_tables.users.c.id == 5)
                     .values(webhook_token="five"))
    assert client.get("/rest/5/five/probe.echo").get_json()["result"]["user_id"] == 5


# -- limits ---------------------------------------------------------------------------------------
def test_rate_limit_answers_503_once_the_bucket_is_full_and_recovers(client: FlaskClient,
                                                                      sim: Simulator) -> None:
    limits = limits_for(sim)
    fake = FakeMonotonic()
    limits.monotonic = fake
    limits.reset()
    limits.configure(enabled=True, x=3, y=2)
    statuses = [client.get(WEBHOOK + "probe.echo").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 503]
    refused = client.get(WEBHOOK + "probe.echo")
    assert refused.get_json() == {"error": "QUERY_LIMIT_EXCEEDED",
                                  "error_description": "Too many requests"}
    fake.advance(0.5)  # drains one request at 2 per second
    assert client.get(WEBHOOK + "probe.echo").status_code == 200
    assert client.get(WEBHOOK + "probe.echo").status_code == 503
    fake.advance(10)
    assert [client.get(WEBHOOK + "probe.echo").status_code for _ in range(3)] == [200] * 3


def test_a_batch_counts_once_for_the_bucket(client: FlaskClient, sim: Simulator) -> None:
    limits = limits_for(sim)
    limits.monotonic = FakeMonotonic()
    limits.reset()
    limits.configure(enabled=True, x=2, y=1)
    commands = {f"c{i}": "probe.echo?i=1" for i in range(30)}
    first = client.post(WEBHOOK + "batch", json={"cmd": commands})
    assert first.status_code == 200
    assert len(first.get_json()["result"]["result"]) == 30
    assert client.get(WEBHOOK + "probe.echo").status_code == 200
    assert client.get(WEBHOOK + "probe.echo").status_code == 503


def test_rate_limit_is_off_by_default(client: FlaskClient) -> None:
    assert all(client.get(WEBHOOK + "probe.echo").status_code == 200 for _ in range(60))


def test_operating_time_adds_up_per_method_and_can_block_it(client: FlaskClient,
                                                            sim: Simulator) -> None:
    first = client.get(WEBHOOK + "probe.echo").get_json()["time"]
    second = client.get(WEBHOOK + "probe.echo").get_json()["time"]
    other = client.get(WEBHOOK + "probe.page").get_json()["time"]
    assert second["operating"] == pytest.approx(first["processing"] + second["processing"],
                                                abs=1e-5)
    assert other["operating"] == pytest.approx(other["processing"], abs=1e-5)
    limits = limits_for(sim)
    limits.configure(enabled=True, operating_limit=0.000001)
    blocked = client.get(WEBHOOK + "probe.echo")
    assert blocked.status_code == 429
    assert blocked.get_json()["error"] == "OPERATION_TIME_LIMIT"
    assert client.get(WEBHOOK + "probe.fail").status_code == 403  # other methods keep working


def test_operating_time_leaves_the_ten_minute_window() -> None:
    from simulator.core.ratelimit import OperatingMeter

    now = [0.0]
    meter = OperatingMeter(lambda: now[0], window=600)
    meter.record("crm.deal.update", 2.0)
    now[0] = 300
    meter.record("crm.deal.update", 3.0)
    meter.record("tasks.task.update", 1.5)
    assert (meter.total("crm.deal.update"), meter.total("tasks.task.update")) == (5.0, 1.5)
    now[0] = 601  # the first record is older than ten minutes
    assert meter.total("crm.deal.update") == 3.0
    now[0] = 901
    assert (meter.total("crm.deal.update"), meter.total("tasks.task.update")) == (0.0, 0.0)
    meter.record("crm.deal.update", 0.25)
    assert meter.total("crm.deal.update") == 0.25


def test_batch_commands_are_held_to_their_own_methods_operating_time(client: FlaskClient,
                                                                     sim: Simulator) -> None:
    client.get(WEBHOOK + "probe.echo")  # probe.echo has used some operating time
    limits_for(sim).configure(enabled=True, operating_limit=0.000001)
    cmd = {"echo": "probe.echo?x=1", "page": "probe.page"}
    response = client.post(WEBHOOK + "batch", json={"cmd": cmd})
    assert response.status_code == 200
    answer = response.get_json()["result"]
    assert answer["result_error"] == {"echo": {
        "error": "OPERATION_TIME_LIMIT",
        "error_description": "Method is blocked due to operation time limit."}}
    assert len(answer["result"]["page"]) == 50  # its own method still has time
    halted = client.post(WEBHOOK + "batch", json={"cmd": cmd, "halt": 1}).get_json()["result"]
    assert list(halted["result_error"]) == ["echo"] and halted["result"] == []
    # In-process calls are neither limited nor counted, batches included.
    in_process = sim.call("batch", {"cmd": cmd})["result"]
    assert in_process["result_error"] == [] and in_process["result"]["echo"]["params"]["x"] == "1"

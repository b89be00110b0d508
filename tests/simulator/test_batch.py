"""``batch`` over HTTP: references, halting, the length limit and PHP's serialisation quirks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from simulator import Simulator
from simulator.core import phpquery
from simulator.web import create_app
from tests.simulator.http_support import WEBHOOK, add_admin, probe_methods, probe_value


@pytest.fixture
def client(sim: Simulator) -> Iterator[FlaskClient]:
    add_admin(sim)
    with probe_methods():
        yield create_app(sim).test_client()


def run_batch(client: FlaskClient, cmd: Any, halt: int = 0) -> dict[str, Any]:
    response = client.post(WEBHOOK + "batch", json={"halt": halt, "cmd": cmd})
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"result", "time"}
    return body["result"]


def test_results_feed_later_commands_through_result_references(client: FlaskClient) -> None:
    result = run_batch(client, {
        "first": "probe.echo?" + phpquery.build({"fields": {"ID": "7", "TAGS": ["a", "b"]}}),
        "second": "probe.echo?" + phpquery.build({
            "id": "$result[first][params][fields][ID]",
            "tags": "$result[first][params][fields][TAGS]",
            "text": "lead $result[first][params][fields][ID] of $result[first][user_id]",
            "filter": {"@ID": ["$result[first][params][fields][TAGS][1]"]},
            "missing": "$result[nothing][ID]",
        }),
    })
    second = result["result"]["second"]["params"]
    assert second["id"] == "7"
    assert second["tags"] == ["a", "b"]  # a whole reference keeps the referenced value's shape
    assert second["text"] == "lead 7 of 1"
    assert second["filter"] == {"@ID": ["b"]}
    assert second["missing"] == "$result[nothing][ID]"


def test_empty_sections_are_json_arrays_as_the_portal_serialises_them(client: FlaskClient
                                                                      ) -> None:
    response = client.post(WEBHOOK + "batch", json={"cmd": {"one": "probe.echo?x=1"}})
    raw = response.get_data(as_text=True)
    assert '"result_error": []' in raw
    assert '"result_total": []' in raw
    assert '"result_next": []' in raw
    result = response.get_json()["result"]
    assert result["result"] == {"one": {"params": {"x": "1"}, "user_id": 1}}
    assert set(result["result_time"]["one"]) >= {"start", "duration", "operating"}


def test_an_array_of_commands_answers_with_arrays(client: FlaskClient) -> None:
    result = run_batch(client, ["probe.page", "probe.page?start=50"])
    assert isinstance(result["result"], list) and len(result["result"]) == 2
    assert result["result_total"] == [120, 120]
    assert result["result_next"] == [50, 100]
    assert isinstance(result["result_time"], list)
    assert result["result_error"] == []


def test_halt_stops_at_the_first_error_and_otherwise_all_commands_run(client: FlaskClient
                                                                      ) -> None:
    commands = ["probe.echo?n=0", "probe.fail", "probe.echo?n=2"]
    halted = run_batch(client, commands, halt=1)
    assert halted["result"] == [{"params": {"n": "0"}, "user_id": 1}]
    assert halted["result_error"] == {"1": {"error": "ACCESS_DENIED",
                                            "error_description": "Access denied!"}}
    went_on = run_batch(client, commands, halt=0)
    # keys 0 and 2 are not a 0..n-1 run, so PHP writes an object
    assert set(went_on["result"]) == {"0", "2"}
    assert set(went_on["result_error"]) == {"1"}


def test_more_than_fifty_commands_fail_the_whole_call_and_run_none(client: FlaskClient,
                                                                   sim: Simulator) -> None:
    commands = {f"c{i}": f"probe.remember?key=k{i}&value=v" for i in range(51)}
    response = client.post(WEBHOOK + "batch", json={"cmd": commands})
    assert response.status_code == 400
    assert response.get_json() == {"error": "ERROR_BATCH_LENGTH_EXCEEDED",
                                   "error_description": "Max batch length exceeded"}
    assert probe_value(sim, "probe:k0") is None
    del commands["c50"]
    assert len(run_batch(client, commands)["result"]) == 50


def test_a_nested_batch_fails_only_its_own_command(client: FlaskClient) -> None:
    result = run_batch(client, {"inner": "batch?cmd[a]=probe.echo", "ok": "probe.echo"})
    assert result["result_error"] == {"inner": {
        "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
        "error_description": "Method is not allowed for batch usage"}}
    assert "ok" in result["result"]


def test_each_command_commits_on_its_own(client: FlaskClient, sim: Simulator) -> None:
    result = run_batch(client, {"save": "probe.remember?key=a&value=kept",
                                "boom": "probe.fail", "missing": "no.such.method"})
    assert result["result"] == {"save": True}
    assert result["result_error"]["missing"]["error"] == "ERROR_METHOD_NOT_FOUND"
    assert probe_value(sim, "probe:a") == "kept"


def test_client_bookkeeping_parameters_are_dropped(client: FlaskClient) -> None:
    # fast_bitrix24 adds __order to every command it sends
    result = run_batch(client, {"order0000000000": "probe.echo?x=1&__order=order0000000000&"})
    assert result["result"]["order0000000000"]["params"] == {"x": "1"}


def test_batch_works_from_a_form_body_and_from_the_query_string(client: FlaskClient) -> None:
    form = phpquery.build({"halt": 0, "cmd": {"a": "probe.echo?" + phpquery.build(
        {"filter": {">=ID": 5}}), "b": "probe.echo?id=$result[a][params][filter][>=ID]"}})
    by_form = client.post(WEBHOOK + "batch", data=form,
                          content_type="application/x-www-form-urlencoded").get_json()
    by_query = client.get(WEBHOOK + "batch?" + form).get_json()
    for body in (by_form, by_query):
        assert body["result"]["result"]["a"]["params"] == {"filter": {">=ID": "5"}}
        assert body["result"]["result"]["b"]["params"] == {"id": "5"}


def test_numeric_command_keys_shape_the_answer_as_php_would(client: FlaskClient) -> None:
    # b24pysdk uses "1", "2"... on purpose so that the portal answers with an object
    one_based = run_batch(client, {"1": "probe.echo?n=1", "2": "probe.echo?n=2"})
    assert set(one_based["result"]) == {"1", "2"}
    zero_based = run_batch(client, {"0": "probe.echo?n=0", "1": "probe.echo?n=1"})
    assert isinstance(zero_based["result"], list)


@pytest.mark.parametrize("cmd", ["probe.echo", {"a": {"method": "probe.echo"}}, {"a": "?x=1"}])
def test_malformed_commands_are_refused_before_anything_runs(client: FlaskClient,
                                                             cmd: Any) -> None:
    response = client.post(WEBHOOK + "batch", json={"cmd": cmd})
    assert response.status_code == 400
    assert response.get_json()["error"] == "INVALID_ARG_VALUE"


def test_a_batch_without_commands_answers_empty_sections(client: FlaskClient) -> None:
    assert run_batch(client, {}) == {"result": [], "result_error": [], "result_total": [],
                                     "result_next": [], "result_time": []}


def test_batch_through_the_in_process_dispatcher(sim: Simulator) -> None:
    add_admin(sim)
    with probe_methods():
        answer = sim.call("batch", {"cmd": {"a": "probe.echo?x=1",
                                            "b": "probe.echo?y=$result[a][params][x]"}})
    assert answer["result"]["result"]["b"]["params"] == {"y": "1"}

"""Bulk writes: ``params[REGISTER_SONET_EVENT]=N``, ``batch`` as one transaction, and the
configuration cache (bound handlers, user fields) staying right across calls and processes."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from simulator import SimError, Simulator
from simulator.core import tables as core_tables
from simulator.core.registry import METHODS, MethodSpec
from simulator.crm import tables as crm_tables
from simulator.crm.ops import create_item
from tests.simulator.crm_helpers import add_people, captured_events, notifications, result
from tests.simulator.test_events import Endpoint


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    add_people(sim)
    return sim


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


def _deal(sim: Simulator, title: str = "Pumps") -> int:
    return int(result(sim, "crm.deal.add", {"fields": {"TITLE": title}}))


def _deals(sim: Simulator) -> list[str]:
    with sim.engine.connect() as conn:
        items = crm_tables.crm_items
        return list(conn.execute(select(items.c.title).where(
            items.c.entity_type_id == 2).order_by(items.c.id)).scalars())


# -- REGISTER_SONET_EVENT ------------------------------------------------------------------------
def test_register_sonet_event_n_sends_no_responsible_notice(portal: Simulator) -> None:
    quiet, told = _deal(portal, "Quiet"), _deal(portal, "Told")
    with captured_events(portal) as seen:
        portal.call("crm.deal.update", {"id": quiet, "fields": {"ASSIGNED_BY_ID": 2},
                                        "params": {"REGISTER_SONET_EVENT": "N"}})
        portal.call("batch", {"cmd": {
            "q": f"crm.deal.update?id={quiet}&fields[ASSIGNED_BY_ID]=3"
                 "&params[REGISTER_SONET_EVENT]=N",
            "t": f"crm.deal.update?id={told}&fields[ASSIGNED_BY_ID]=3"}})
    assert [(row.entity_id, row.kind) for row in notifications(portal, 2)] == []
    assert [(row.entity_id, row.kind) for row in notifications(portal, 3)] == [
        (told, "crm_assigned")]
    assert [e.name for e in seen].count("ONIMNOTIFYADD") == 1
    # the change itself is made and announced as usual
    assert result(portal, "crm.deal.get", {"id": quiet})["ASSIGNED_BY_ID"] == "3"
    assert [e.name for e in seen].count("ONCRMDEALUPDATE") == 3


def test_register_sonet_event_n_on_add_sends_no_notice(portal: Simulator) -> None:
    result(portal, "crm.lead.add", {"fields": {"TITLE": "Quiet", "ASSIGNED_BY_ID": 2},
                                    "params": {"REGISTER_SONET_EVENT": "N"}})
    told = result(portal, "crm.lead.add", {"fields": {"TITLE": "Told", "ASSIGNED_BY_ID": 2}})
    assert [row.entity_id for row in notifications(portal, 2)] == [told]


# -- batch: one transaction, nothing left of a failed command ------------------------------------
def _write_then_fail(ctx: Any, params: Any) -> Any:
    create_item(ctx, 2, {"TITLE": "Half-made"})
    raise SimError("ERROR_CORE", "Went wrong after writing", 400)


@pytest.fixture
def failing_method() -> Iterator[None]:
    METHODS["probe.write_then_fail"] = MethodSpec("probe.write_then_fail", _write_then_fail)
    yield
    METHODS.pop("probe.write_then_fail", None)


def test_a_failed_command_in_a_batch_leaves_nothing_while_the_others_stand(
        portal: Simulator, failing_method: None) -> None:
    with captured_events(portal) as seen:
        answer = result(portal, "batch", {"halt": 0, "cmd": {
            "a": "crm.deal.add?fields[TITLE]=First",
            "bad": "probe.write_then_fail",
            "b": "crm.deal.add?fields[TITLE]=Second",
            "c": "crm.deal.update?id=$result[a]&fields[TITLE]=First+renamed"}})
    assert answer["result_error"] == {"bad": {"error": "ERROR_CORE",
                                              "error_description": "Went wrong after writing"}}
    assert set(answer["result"]) == {"a", "b", "c"}
    assert _deals(portal) == ["First renamed", "Second"]
    # only the commands that stood are announced, after the whole request committed
    assert [(e.name, e.entity_id) for e in seen if e.name.startswith("ONCRMDEAL")] == [
        ("ONCRMDEALADD", answer["result"]["a"]), ("ONCRMDEALADD", answer["result"]["b"]),
        ("ONCRMDEALUPDATE", answer["result"]["a"])]


def test_halt_keeps_the_commands_before_the_failure(portal: Simulator,
                                                    failing_method: None) -> None:
    answer = result(portal, "batch", {"halt": 1, "cmd": [
        "crm.deal.add?fields[TITLE]=Kept", "probe.write_then_fail",
        "crm.deal.add?fields[TITLE]=Never"]})
    assert list(answer["result_error"]) == ["1"]
    assert _deals(portal) == ["Kept"]


def test_an_invalid_update_in_a_batch_changes_nothing_of_that_item(portal: Simulator) -> None:
    first, second = _deal(portal, "One"), _deal(portal, "Two")
    answer = result(portal, "batch", {"cmd": {
        "bad": f"crm.deal.update?id={first}&fields[TITLE]=Changed&fields[ASSIGNED_BY_ID]=999",
        "good": f"crm.deal.update?id={second}&fields[TITLE]=Two+changed"}})
    assert "ASSIGNED_BY_ID" in answer["result_error"]["bad"]["error_description"]
    assert answer["result"] == {"good": True}
    assert _deals(portal) == ["One", "Two changed"]


# -- the configuration cache ---------------------------------------------------------------------
def test_a_handler_bound_after_the_first_call_gets_the_next_event(
        portal: Simulator, endpoint: Endpoint) -> None:
    deal = _deal(portal)
    portal.call("crm.deal.update", {"id": deal, "fields": {"TITLE": "Before binding"}})
    portal.call("event.bind", {"event": "ONCRMDEALUPDATE", "handler": endpoint.url})
    portal.call("batch", {"cmd": [f"crm.deal.update?id={deal}&fields[TITLE]=Bound"]})
    assert portal.bus.flush()
    assert [post["event"] for post in endpoint.posts] == [["ONCRMDEALUPDATE"]]
    portal.call("event.unbind", {"event": "ONCRMDEALUPDATE", "handler": endpoint.url})
    portal.call("crm.deal.update", {"id": deal, "fields": {"TITLE": "Unbound"}})
    assert portal.bus.flush()
    assert len(endpoint.posts) == 1


def test_an_offline_handler_bound_after_the_first_call_queues_the_next_event(
        portal: Simulator) -> None:
    deal = _deal(portal)
    portal.call("crm.deal.update", {"id": deal, "fields": {"TITLE": "Nobody listens"}})
    assert result(portal, "event.offline.list") == []
    portal.call("event.bind", {"event": "ONCRMDEALUPDATE", "event_type": "offline"})
    portal.call("crm.deal.update", {"id": deal, "fields": {"TITLE": "Queued"}})
    queued = result(portal, "event.offline.list")
    assert [row["EVENT_NAME"] for row in queued] == ["ONCRMDEALUPDATE"]


def test_changes_made_by_another_process_are_seen(tmp_path: Path, endpoint: Endpoint) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = Simulator(url, webhook_token="shared")
    add_people(first)
    second = Simulator(url, webhook_token="shared")
    try:
        deal = _deal(first)
        assert "UF_CRM_SIZE" not in result(first, "crm.deal.fields")
        first.call("crm.deal.update", {"id": deal, "fields": {"TITLE": "Seen once"}})
        second.call("event.bind", {"event": "ONCRMDEALUPDATE", "handler": endpoint.url})
        second.call("crm.deal.userfield.add", {"fields": {"FIELD_NAME": "SIZE"}})
        first.call("crm.deal.update", {"id": deal, "fields": {"TITLE": "Seen twice",
                                                               "UF_CRM_SIZE": "large"}})
        assert first.bus.flush()
        assert [post["event"] for post in endpoint.posts] == [["ONCRMDEALUPDATE"]]
        assert result(first, "crm.deal.get", {"id": deal})["UF_CRM_SIZE"] == "large"
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_a_handler_written_straight_into_the_database_is_seen(portal: Simulator,
                                                              endpoint: Endpoint) -> None:
    deal = _deal(portal)
    portal.call("crm.deal.update", {"id": deal, "fields": {"TITLE": "First"}})
    with portal.engine.begin() as conn:
        conn.execute(core_tables.event_handlers.insert().values(
            event="ONCRMDEALUPDATE", handler=endpoint.url, auth_type=0, event_type="online",
            application_token="apptoken"))
    portal.call("crm.deal.update", {"id": deal, "fields": {"TITLE": "Second"}})
    assert portal.bus.flush()
    assert len(endpoint.posts) == 1


def test_a_reset_forgets_bound_handlers(portal: Simulator, endpoint: Endpoint) -> None:
    portal.call("event.bind", {"event": "ONCRMDEALADD", "handler": endpoint.url})
    _deal(portal)
    assert portal.bus.flush()
    portal.reset()
    add_people(portal)
    _deal(portal)
    assert portal.bus.flush()
    assert len(endpoint.posts) == 1


# -- event time ----------------------------------------------------------------------------------
@pytest.fixture
def far_east_host() -> Iterator[None]:
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Vladivostok"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


def test_event_ts_is_the_unix_time_whatever_the_host_zone(portal: Simulator,
                                                          far_east_host: None) -> None:
    at = portal.clock.now().replace(microsecond=0)
    portal.clock.set(at)
    with captured_events(portal) as seen:
        _deal(portal)
    assert seen[0].ts == int(at.replace(tzinfo=UTC).timestamp())  # not shifted by the host zone

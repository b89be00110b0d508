"""Event subscriptions: real outbound webhooks to a local HTTP endpoint, and the offline queue."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from simulator import SimError, Simulator
from simulator.core import tables as core_tables
from tests.simulator.staff import HEAD, SELLER, add_staff


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    add_staff(sim)
    return sim


class Endpoint:
    """An HTTP server on 127.0.0.1 that records every POST and answers with ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[dict[str, list[str]]] = []
        self.status = status
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                endpoint.posts.append(parse_qs(body, keep_blank_values=True))
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/handler/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


def _task(sim: Simulator, title: str = "Call the client") -> str:
    return str(sim.call("tasks.task.add", {"fields": {"TITLE": title, "RESPONSIBLE_ID": SELLER}},
                        user_id=HEAD)["result"]["task"]["id"])


def test_a_bound_handler_receives_the_portal_form(portal: Simulator,
                                                  endpoint: Endpoint) -> None:
    assert portal.call("event.bind", {"event": "onTaskUpdate", "handler": endpoint.url}) == {
        "result": True}
    at = portal.clock.now().replace(microsecond=0)
    portal.clock.set(at)
    task_id = _task(portal)
    portal.call("tasks.task.update", {"taskId": task_id, "fields": {"TITLE": "Call again"}},
                user_id=HEAD)
    assert portal.bus.flush()
    (form,) = endpoint.posts
    assert form["event"] == ["ONTASKUPDATE"]
    assert form["data[FIELDS_AFTER][ID]"] == [task_id]
    assert form["data[FIELDS_BEFORE][ID]"] == [task_id]
    assert form["auth[application_token]"] == [portal.application_token]
    assert form["ts"] == [str(int(at.replace(tzinfo=UTC).timestamp()))]  # the portal's time
    assert "auth[access_token]" not in form  # the handler must re-read the task itself


def test_a_failed_delivery_is_not_retried(portal: Simulator) -> None:
    failing = Endpoint(status=500)
    try:
        portal.call("event.bind", {"event": "ONTASKADD", "handler": failing.url})
        _task(portal)
        assert portal.bus.flush()  # the delivery was answered 500 ...
        assert portal.bus.flush()  # ... and nothing is left to send again
        assert len(failing.posts) == 1
        assert portal.bus.deliveries[-1]["status"] == 500
    finally:
        failing.close()
    # Nobody listening at all: the attempt is logged and dropped.
    portal.call("event.unbind", {"event": "ONTASKADD"})
    portal.call("event.bind", {"event": "ONTASKADD", "handler": failing.url})
    _task(portal, "Second")
    assert portal.bus.flush()
    assert "error" in portal.bus.deliveries[-1] and len(failing.posts) == 1


def test_bind_checks_names_duplicates_and_rights(portal: Simulator, endpoint: Endpoint) -> None:
    with pytest.raises(SimError) as unknown:
        portal.call("event.bind", {"event": "ONABSENCEADD", "handler": endpoint.url})
    assert (unknown.value.code, unknown.value.description, unknown.value.status) == (
        "ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    portal.call("event.bind", {"event": "ONUSERUPDATE", "handler": endpoint.url})
    with pytest.raises(SimError) as twice:
        portal.call("event.bind", {"event": "ONUSERUPDATE", "handler": endpoint.url})
    assert (twice.value.code, twice.value.description) == (
        "ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!")
    with pytest.raises(SimError) as offline:
        portal.call("event.bind", {"event": "ONTASKADD", "event_type": "offline"}, user_id=HEAD)
    assert (offline.value.code, offline.value.status) == ("ACCESS_DENIED", 403)
    portal.call("event.bind", {"event": "ONTASKADD", "handler": endpoint.url}, user_id=HEAD)
    assert portal.call("event.get", {})["result"] == [
        {"event": "ONUSERUPDATE", "handler": endpoint.url, "auth_type": "0", "offline": 0},
        {"event": "ONTASKADD", "handler": endpoint.url, "auth_type": "0", "offline": 0}]
    assert portal.call("event.unbind", {"event": "ONTASKADD", "handler": endpoint.url}) == {
        "result": {"count": 1}}
    assert portal.call("event.unbind", {"event": "ONTASKADD"}) == {"result": {"count": 0}}
    assert "ONTASKCOMMENTADD" in portal.call("events", {"SCOPE": "task"})["result"]


def test_dismissal_reaches_a_bound_onuserupdate_handler(portal: Simulator,
                                                        endpoint: Endpoint) -> None:
    portal.call("event.bind", {"event": "ONUSERUPDATE", "handler": endpoint.url})
    portal.call("user.update", {"ID": SELLER, "ACTIVE": "N"})
    assert portal.bus.flush()
    (form,) = endpoint.posts
    assert form["data[ID]"] == [str(SELLER)] and form["data[ACTIVE]"] == ["N"]


def test_offline_queue_keeps_one_row_per_task(portal: Simulator) -> None:
    portal.call("event.bind", {"event": "ONTASKUPDATE", "event_type": "offline"})
    task_id = _task(portal)
    for n in range(25):
        portal.call("tasks.task.update", {"taskId": task_id, "fields": {"TITLE": f"v{n}"}},
                    user_id=HEAD)
    queued = portal.call("event.offline.list", {})
    assert queued["total"] == 1
    assert queued["result"][0]["EVENT_DATA"]["FIELDS_AFTER"] == {"ID": task_id}
    got = portal.call("event.offline.get", {})["result"]
    assert got["process_id"] is None and len(got["events"]) == 1
    assert portal.call("event.offline.list", {})["total"] == 0  # clear=1 by default


def test_parallel_offline_readers_get_disjoint_sets(portal: Simulator) -> None:
    portal.call("event.bind", {"event": "ONTASKUPDATE", "event_type": "offline"})
    ids = [_task(portal, f"Task {n}") for n in range(30)]
    for task_id in ids:
        portal.call("tasks.task.update", {"taskId": task_id, "fields": {"PRIORITY": 2}},
                    user_id=HEAD)
    batches: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            batches.append(portal.call("event.offline.get", {"limit": 8, "clear": 0})["result"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    seen = [e["ID"] for batch in batches for e in batch["events"]]
    assert len(seen) == 30 and len(set(seen)) == 30  # 8+8+8+6+0, never twice
    assert len({b["process_id"] for b in batches}) == 5
    # Confirming one batch removes exactly its rows.
    first = max(batches, key=lambda b: len(b["events"]))
    portal.call("event.offline.clear", {"process_id": first["process_id"]})
    with portal.engine.connect() as conn:
        left = conn.execute(select(core_tables.offline_events.c.id)).all()
    assert len(left) == 30 - len(first["events"])
    with pytest.raises(SimError):
        portal.call("event.offline.clear", {})

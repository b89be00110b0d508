"""Event intake and processing: every event is stored once and its effect happens once,
whether it arrives in-process, by webhook (possibly twice) or from the offline queue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.serving import make_server

from portal_ext.directory.models import PortalUser
from portal_ext.events import Veto, accept_inprocess_event, before
from portal_ext.events.models import DONE, FAILED, PENDING, PROCESSING, InboxEvent
from portal_ext.events.processing import process_event, reconcile
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.errors import PortalError
from portal_ext.portal.registration import current_portal
from simulator import SimEvent, Simulator
from simulator import Veto as SimVeto
from simulator.core.bus import flatten_form
from tests.ext import effects

WEBHOOK = "/events/webhook"


@pytest.fixture(autouse=True)
def effect_table(app: Flask) -> Iterator[None]:
    with app.app_context():
        effects.reset(db.engine)
    yield
    effects.control.update(fail_next=0, during=None)


def inbox(app: Flask) -> list[InboxEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
        db.session.expunge_all()
        return rows


def effect_counts(app: Flask) -> dict[int, int]:
    with app.app_context():
        return effects.effects_per_inbox(db.engine)


def form(event: str, data: dict[str, Any], *, token: str | None, ts: str = "1766047124",
         handler_id: str = "7") -> str:
    payload: dict[str, Any] = {"event": event, "event_handler_id": handler_id, "data": data,
                               "ts": ts}
    if token is not None:
        payload["auth"] = {"domain": "portal.test", "member_id": "m", "application_token": token}
    return urlencode(flatten_form(payload))  # exactly what the portal's queue server posts


def post(client: FlaskClient, body: str) -> Any:
    return client.post(WEBHOOK, data=body, content_type="application/x-www-form-urlencoded")


def token(app: Flask) -> str:
    return str(app.config["PORTAL_APPLICATION_TOKEN"])


# -- webhook ------------------------------------------------------------------------------------
def test_the_same_webhook_delivery_twice_is_one_row_and_one_effect(app: Flask,
                                                                    client: FlaskClient) -> None:
    body = form(effects.EVENT, {"FIELDS": {"ID": "41"}, "label": "once"}, token=token(app))
    first, second = post(client, body), post(client, body)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.get_json() == {"accepted": True, "duplicate": False}
    assert second.get_json() == {"accepted": False, "duplicate": True}
    rows = inbox(app)
    assert [(r.event_name, r.source, r.entity_id, r.state) for r in rows] == [
        (effects.EVENT, "webhook", 41, DONE)]
    assert effect_counts(app) == {rows[0].id: 1}
    assert effects.calls == [rows[0].id]


def test_a_later_delivery_of_the_same_change_is_a_new_event(app: Flask,
                                                              client: FlaskClient) -> None:
    data = {"FIELDS": {"ID": "41"}}
    post(client, form(effects.EVENT, data, token=token(app), ts="100"))
    post(client, form(effects.EVENT, data, token=token(app), ts="101"))
    assert len(inbox(app)) == 2


def test_the_extension_s_own_notification_copy_is_ignored_and_not_stored(
        app: Flask, client: FlaskClient) -> None:
    body = form("ONIMNOTIFYADD", {"FIELDS": {"ID": "77", "TAG": "portal_ext:copy:12"}},
                token=token(app))
    answer = post(client, body)
    assert answer.status_code == 200
    assert answer.get_json() == {"accepted": False, "duplicate": False, "ignored": True}
    assert inbox(app) == []


@pytest.mark.parametrize("presented", [None, "", "wrong-token", "x" * 32])
def test_a_missing_or_wrong_application_token_is_401_and_stores_nothing(
        app: Flask, client: FlaskClient, presented: str | None) -> None:
    answer = post(client, form(effects.EVENT, {"FIELDS": {"ID": "1"}}, token=presented))
    assert answer.status_code == 401
    assert answer.get_json()["error"]["field"] == "auth[application_token]"
    assert inbox(app) == []
    assert effects.calls == []


@pytest.mark.parametrize(("body", "field"), [
    ("data[FIELDS][ID]=1&ts=1", "event"),
    ("event=ON%20CRM&data[FIELDS][ID]=1&ts=1", "event"),
    ("event=ONCRMDEALADD&data=7&ts=1", "data"),
    ("event=ONCRMDEALADD&data[FIELDS][ID]=1&ts=yesterday", "ts"),
])
def test_a_payload_the_portal_would_not_send_is_400_naming_the_field(
        app: Flask, client: FlaskClient, body: str, field: str) -> None:
    body += "&" + urlencode({"auth[application_token]": token(app)})
    answer = post(client, body)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == field
    assert inbox(app) == []


def test_the_portal_s_own_outbound_webhook_is_accepted_and_syncs_the_user(
        app: Flask, demo_sim: Simulator) -> None:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        demo_sim.bus.clear_subscribers()  # only the HTTP delivery reaches the extension
        url = f"http://127.0.0.1:{server.server_port}{WEBHOOK}"
        demo_sim.call("event.bind", {"event": "ONUSERUPDATE", "handler": url})
        demo_sim.call("user.update", {"ID": 5, "WORK_POSITION": "Chief of cover"})
        assert demo_sim.bus.flush(10)
        assert demo_sim.bus.deliveries[-1].get("status") == 200
    finally:
        server.shutdown()
        thread.join(5)
    rows = inbox(app)
    assert [(r.event_name, r.source, r.entity_id, r.state) for r in rows] == [
        ("ONUSERUPDATE", "webhook", 5, DONE)]
    with app.app_context():
        user = db.session.scalars(select(PortalUser).where(PortalUser.portal_user_id == 5)).one()
        assert user.work_position == "Chief of cover"


# -- in-process ---------------------------------------------------------------------------------
def test_an_inprocess_event_is_stored_and_processed(app: Flask, demo_sim: Simulator) -> None:
    new_id = demo_sim.call("user.add", {"EMAIL": "new.hire@demo.portal", "NAME": "Nina",
                                        "LAST_NAME": "Novak", "UF_DEPARTMENT": [2]})["result"]
    rows = inbox(app)
    assert [(r.event_name, r.source, r.entity_type, r.entity_id, r.state) for r in rows] == [
        ("ONUSERADD", "inprocess", "USER", new_id, DONE)]
    assert rows[0].idempotency_key.startswith("inprocess:")
    assert rows[0].payload["after"]["EMAIL"] == "new.hire@demo.portal"
    with app.app_context():
        user = db.session.scalars(select(PortalUser)
                                  .where(PortalUser.portal_user_id == new_id)).one()
        assert (user.full_name, user.department_ids, user.active) == ("Nina Novak", [2], True)


def test_an_event_no_handler_acts_on_in_process_is_kept_done_without_a_job(
        app: Flask, demo_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process, a contact changing hands needs no processing (the portal's own
    notification is intercepted instead); over a webhook the same event is processed (derived
    copies). (A deal's update is acted on in-process: its stage may fire stage robots.)"""
    from portal_ext.events import processing

    queued: list[int] = []
    real = processing.queue_processing

    def counting(inbox_id: int, **kwargs: Any) -> None:
        queued.append(inbox_id)
        real(inbox_id, **kwargs)

    monkeypatch.setattr(processing, "queue_processing", counting)
    contact = demo_sim.call("crm.contact.list", {"select": ["ID"]})["result"][0]["ID"]
    demo_sim.call("crm.contact.update", {"id": contact, "fields": {"NAME": "Renamed"}})
    rows = [r for r in inbox(app) if r.event_name == "ONCRMCONTACTUPDATE"]
    assert [(r.source, r.state, r.attempts) for r in rows] == [("inprocess", DONE, 0)]
    assert rows[0].id not in queued
    with app.app_context():
        from portal_ext.events.intake import store_event
        from portal_ext.events.portal_event import PortalEvent

        webhook_id = store_event(
            PortalEvent(name="ONCRMCONTACTUPDATE", source="webhook",
                        data={"FIELDS": {"ID": str(contact)}}, ts=1),
            portal=current_portal(), key="webhook:contact", now=host_utcnow())
    assert webhook_id in queued
    assert {r.id: (r.state, r.attempts) for r in inbox(app)}[webhook_id] == (DONE, 1)


def test_the_same_inprocess_event_twice_is_one_row(app: Flask) -> None:
    event = SimEvent(name=effects.EVENT, data={"FIELDS": {"ID": "3"}}, ts=1).as_dict()
    with app.app_context():
        assert accept_inprocess_event(event) is not None
        assert accept_inprocess_event(event) is None
    assert len(inbox(app)) == 1
    assert sum(effect_counts(app).values()) == 1


_guard: dict[str, bool] = {"on": False}


@before("ONBEFORETASKUPDATE")
def _refuse_forbidden_titles(event: Any, *, portal: Any, now: Any) -> None:
    title = str((event.after or {}).get("title") or (event.after or {}).get("TITLE") or "")
    if _guard["on"] and "forbidden" in title.lower():
        raise Veto("This title is not allowed here.")


def test_a_before_handler_vetoes_the_portal_change(app: Flask, demo_sim: Simulator) -> None:
    task_id = demo_sim.call("tasks.task.list", {"select": ["ID", "TITLE"]})["result"]["tasks"][0]
    task_id = int(task_id["id"])
    _guard["on"] = True
    try:
        with app.app_context(), pytest.raises(PortalError) as refused:
            from portal_ext.portal.registration import portal_client

            portal_client().call("tasks.task.update",
                                 {"taskId": task_id, "fields": {"TITLE": "Forbidden title"}})
        with pytest.raises(SimVeto):
            demo_sim.bus.run_before(SimEvent(name="ONBEFORETASKUPDATE", data={}, ts=1,
                                             after={"title": "forbidden"}))
    finally:
        _guard["on"] = False
    assert refused.value.description == "This title is not allowed here."
    task = demo_sim.call("tasks.task.get", {"taskId": task_id})["result"]["task"]
    assert task["title"] != "Forbidden title"


# -- processing: retries, stuck rows, lost leases -----------------------------------------------
def accept(app: Flask, event_id: str, **data: Any) -> int:
    event = SimEvent(name=effects.EVENT, data={"FIELDS": {"ID": "9"}, **data}, ts=1,
                     id=event_id).as_dict()
    with app.app_context():
        inbox_id = accept_inprocess_event(event)
    assert inbox_id is not None
    return inbox_id


def test_a_failing_handler_is_retried_after_a_backoff_then_done(app: Flask) -> None:
    app.config["EVENT_RETRY_BASE_SECONDS"] = 30.0
    effects.control["fail_next"] = 1
    inbox_id = accept(app, "retry-1")
    [row] = inbox(app)
    assert (row.state, row.attempts, row.error) == (
        PENDING, 1, "RuntimeError: the handler failed on purpose")
    assert row.next_attempt_at is not None and row.next_attempt_at > host_utcnow()
    assert effect_counts(app) == {}  # the failed attempt's effect was rolled back
    with app.app_context():
        assert reconcile(now=host_utcnow()) == 0  # not due yet
        assert reconcile(now=host_utcnow() + timedelta(seconds=31)) == 1
    [row] = inbox(app)
    assert (row.state, row.attempts, row.error) == (DONE, 2, None)
    assert effect_counts(app) == {inbox_id: 1}


def test_a_handler_failing_every_time_ends_failed_after_the_last_attempt(app: Flask) -> None:
    effects.control["fail_next"] = 100
    accept(app, "doomed")
    with app.app_context():
        for _ in range(10):
            reconcile(now=host_utcnow() + timedelta(hours=1))
    [row] = inbox(app)
    assert (row.state, row.attempts) == (FAILED, app.config["EVENT_MAX_ATTEMPTS"])
    assert row.processed_at is not None
    assert effect_counts(app) == {}


def test_reconcile_requeues_a_row_whose_worker_died_and_one_never_queued(app: Flask) -> None:
    long_ago = host_utcnow() - timedelta(hours=1)
    with app.app_context():
        portal = current_portal()
        for key, state in (("died", PROCESSING), ("lost-message", PENDING)):
            db.session.add(InboxEvent(
                portal_id=portal.id, idempotency_key=key, event_name=effects.EVENT,
                source="inprocess", payload={"data": {}}, received_at=long_ago, state=state,
                attempts=1 if state == PROCESSING else 0,
                claimed_at=long_ago if state == PROCESSING else None, claim_token="dead"))
        db.session.commit()
        fresh = InboxEvent(portal_id=portal.id, idempotency_key="in-flight",
                           event_name=effects.EVENT, source="inprocess", payload={},
                           received_at=host_utcnow(), state=PROCESSING, attempts=1,
                           claimed_at=host_utcnow(), claim_token="alive")
        db.session.add(fresh)
        db.session.commit()
        assert reconcile(now=host_utcnow()) == 2
    states = {r.idempotency_key: (r.state, r.attempts) for r in inbox(app)}
    assert states == {"died": (DONE, 2), "lost-message": (DONE, 1),
                      "in-flight": (PROCESSING, 1)}
    assert sorted(effect_counts(app).values()) == [1, 1]


def test_a_worker_whose_lease_was_taken_back_keeps_none_of_its_work(app: Flask) -> None:
    def presumed_dead(event: Any) -> None:
        effects.control["during"] = None  # the second run goes through normally
        with app.app_context():  # another node's reconcile tick, an hour later
            assert reconcile(now=host_utcnow() + timedelta(hours=1)) == 1

    effects.control["during"] = presumed_dead
    inbox_id = accept(app, "slow-one")
    assert len(effects.calls) == 2  # ran twice...
    assert effect_counts(app) == {inbox_id: 1}  # ...but its effect happened once
    [row] = inbox(app)
    assert (row.state, row.attempts) == (DONE, 2)


def test_processing_a_done_row_again_does_nothing(app: Flask) -> None:
    inbox_id = accept(app, "again")
    with app.app_context():
        assert process_event(inbox_id) == "skipped"
    assert effect_counts(app) == {inbox_id: 1}


# -- offline queue ------------------------------------------------------------------------------
def test_offline_events_are_stored_then_confirmed_and_survive_a_crash_in_between(
        app: Flask, demo_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from portal_ext.events.offline import poll_offline
    from portal_ext.portal.client import PortalClient

    demo_sim.bus.clear_subscribers()  # offline queue only
    demo_sim.call("event.bind", {"event": "ONUSERUPDATE", "event_type": "offline"})
    demo_sim.call("user.update", {"ID": 3, "WORK_POSITION": "First"})
    demo_sim.call("user.update", {"ID": 3, "WORK_POSITION": "Second"})  # same object: 1 record
    demo_sim.call("user.update", {"ID": 4, "ACTIVE": "N"})

    real_call = PortalClient.call

    def crash_on_clear(self: PortalClient, method: str, params: Any = None) -> Any:
        if method == "event.offline.clear":
            raise PortalError("PORTAL_UNAVAILABLE", "connection reset", 503)
        return real_call(self, method, params)

    with app.app_context():
        portal = current_portal()
        monkeypatch.setattr(PortalClient, "call", crash_on_clear)
        with pytest.raises(PortalError):
            poll_offline(portal)
        monkeypatch.setattr(PortalClient, "call", real_call)
        assert len(inbox(app)) == 2  # stored before the crash
        assert poll_offline(portal) == 2  # the same records again: nothing new stored
        assert poll_offline(portal) == 0
        assert db.session.scalar(select(func.count()).select_from(InboxEvent)) == 2
    rows = inbox(app)
    assert {(r.source, r.entity_id, r.state) for r in rows} == {("offline", 3, DONE),
                                                                ("offline", 4, DONE)}
    assert demo_sim.call("event.offline.list", {})["result"] == []
    with app.app_context():
        users = {u.portal_user_id: u for u in db.session.scalars(select(PortalUser))}
        assert users[3].work_position == "Second"
        assert users[4].active is False


# -- runners and commands -----------------------------------------------------------------------
def add_pending_row(app: Flask, key: str, *, age: timedelta = timedelta(0)) -> int:
    with app.app_context():
        row = InboxEvent(portal_id=current_portal().id, idempotency_key=key,
                         event_name=effects.EVENT, source="webhook", payload={"data": {}},
                         received_at=host_utcnow() - age, state=PENDING, attempts=0)
        db.session.add(row)
        db.session.commit()
        return row.id


def test_the_embedded_runner_works_in_the_background_and_ticks(
        demo_sim: Simulator, ext_database_url: str) -> None:
    from portal_ext.jobs import ThreadRunner, runner_for
    from tests.ext.conftest import build_app, dispose_app

    app = build_app(demo_sim, ext_database_url, TASK_RUNNER="thread", TICK_SECONDS=0.2,
                    EVENT_STUCK_SECONDS=0.0)
    runner = runner_for(app)
    assert isinstance(runner, ThreadRunner)
    try:
        with app.app_context():
            effects.reset(db.engine)
        accepted = accept(app, "background", sleep=0.2)
        assert runner.drain(10)
        forgotten = add_pending_row(app, "never-queued", age=timedelta(minutes=5))
        runner.start()  # the scheduler: its reconcile tick finds the forgotten row
        for _ in range(100):
            if effect_counts(app).get(forgotten):
                break
            threading.Event().wait(0.1)
        assert effect_counts(app) == {accepted: 1, forgotten: 1}
    finally:
        runner.stop()
        dispose_app(app)


def test_the_process_and_reconcile_commands(app: Flask) -> None:
    waiting = add_pending_row(app, "left-behind")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["events", "process"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"done": 1}
    assert effect_counts(app) == {waiting: 1}
    stuck = add_pending_row(app, "stuck", age=timedelta(hours=2))
    result = runner.invoke(args=["events", "reconcile"])
    assert (result.exit_code, json.loads(result.output)) == (0, {"queued": 1})
    assert effect_counts(app) == {waiting: 1, stuck: 1}

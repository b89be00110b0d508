"""The acceptance flow in REST mode: the extension reaches the simulated portal over HTTP (its
incoming webhook URL) and receives its outbound event webhooks on its own HTTP endpoint, as
with a cloud portal. Copies are derived from the portal's events and the deadline check."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from portal_ext import create_app
from portal_ext.directory.services import sync_directory
from portal_ext.events.bindings import bound_events, ensure_bindings
from portal_ext.extensions import db
from portal_ext.notifications.handlers import REST_EVENTS
from portal_ext.notifications.tasks import check_deadlines
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import client_for, close_clients, current_portal
from simulator import Simulator
from simulator.web import create_app as create_simulator_app
from tests.ext.fanout_support import (
    FEDOROV,
    NIKITINA,
    WEEK,
    copies,
    day_month,
    deliveries,
    freeze,
    inbox,
    record_absence,
)


@dataclass
class RestSetup:
    app: Flask
    sim: Simulator
    handler_url: str


def _serve(app: Any) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def rest(demo_sim: Simulator, ext_database_url: str) -> Iterator[RestSetup]:
    portal_server, portal_thread = _serve(create_simulator_app(demo_sim))
    portal_url = f"http://127.0.0.1:{portal_server.server_port}"
    app = create_app({
        "TESTING": True, "DATABASE_URL": ext_database_url, "PORTAL_MODE": "rest",
        "PORTAL_URL": portal_url, "PORTAL_WEBHOOK_URL": f"{portal_url}/rest/1/testtoken/",
        "PORTAL_APPLICATION_TOKEN": demo_sim.application_token,
        "PORTAL_MEMBER_ID": demo_sim.member_id, "TASK_RUNNER": "inline",
        "PORTAL_LANGUAGE": "en",  # the tests read the copies' English wording
        # The simulator does not limit this webhook: no need to hold back.
        "PORTAL_RATE_POOL": 10_000, "PORTAL_RATE_PER_SECOND": 10_000.0})
    ext_server, ext_thread = _serve(app)
    handler_url = f"http://127.0.0.1:{ext_server.server_port}/events/webhook"
    with app.app_context():
        portal = current_portal()
        client = client_for(portal)
        sync_directory(portal=portal, client=client, now=host_utcnow())
        ensure_bindings(client, handler_url, REST_EVENTS)
    try:
        yield RestSetup(app, demo_sim, handler_url)
    finally:
        for server, thread in ((ext_server, ext_thread), (portal_server, portal_thread)):
            server.shutdown()
            thread.join(10)
            server.server_close()
        close_clients(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _settled(sim: Simulator) -> None:
    """Wait until the portal has delivered every event webhook (each is processed, and its
    copies sent, before the extension answers it)."""
    assert sim.bus.flush(30)
    assert all(d.get("status") == 200 for d in sim.bus.deliveries), sim.bus.deliveries[-3:]


def test_binding_the_events_twice_binds_nothing_new(rest: RestSetup) -> None:
    with rest.app.app_context():
        client = client_for(current_portal())
        assert ensure_bindings(client, rest.handler_url, REST_EVENTS) == []
        assert bound_events(client, rest.handler_url) == set(REST_EVENTS)


def test_the_bind_command_subscribes_every_handled_event_the_portal_offers(
        rest: RestSetup) -> None:
    runner = rest.app.test_cli_runner()
    with rest.app.app_context():
        client = client_for(current_portal())
        before = bound_events(client, rest.handler_url)

        refused = runner.invoke(args=["events", "bind", "--url", "ext.example.com"])
        assert refused.exit_code == 2 and "--url" in refused.output
        unknown = runner.invoke(args=["events", "bind", "--url", rest.handler_url,
                                      "--event", "ONNOSUCHTHING"])
        assert unknown.exit_code == 2 and "ONNOSUCHTHING" in unknown.output
        assert bound_events(client, rest.handler_url) == before

        result = runner.invoke(args=["events", "bind", "--url", rest.handler_url])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert {"ONUSERADD", "ONUSERUPDATE"} <= set(report["bound"])
        assert set(report["already"]) == set(REST_EVENTS)
        assert bound_events(client, rest.handler_url) == before | set(report["bound"])

        again = json.loads(runner.invoke(
            args=["events", "bind", "--url", rest.handler_url]).output)
        assert again["bound"] == []

        offline = json.loads(runner.invoke(
            args=["events", "bind", "--offline", "--event", "ONCRMDEALUPDATE"]).output)
        assert offline["bound"] == ["ONCRMDEALUPDATE"]
        assert bound_events(client, "", offline=True) == {"ONCRMDEALUPDATE"}


def test_the_deputy_gets_copies_of_a_lead_an_email_a_task_a_deadline_and_a_comment(
        rest: RestSetup, monday: datetime) -> None:
    sim = rest.sim
    record_absence(rest.app, NIKITINA, FEDOROV, monday, monday + WEEK)
    freeze(sim, monday + timedelta(hours=2))

    lead = sim.call("crm.lead.add", {"fields": {"TITLE": "Excavator", "ASSIGNED_BY_ID":
                                                NIKITINA}})["result"]
    sim.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 1, "OWNER_ID": lead, "TYPE_ID": 4, "DIRECTION": 1,
        "SUBJECT": "Quote request", "RESPONSIBLE_ID": NIKITINA,
        "COMMUNICATIONS": [{"VALUE": "buyer@stroymontazh.example", "TYPE": "EMAIL"}]}})
    deadline = sim.clock.now() + timedelta(minutes=40)
    task = sim.call("tasks.task.add", {"fields": {
        "TITLE": "Send the offer", "RESPONSIBLE_ID": NIKITINA,
        "DEADLINE": sim.to_portal_iso(deadline)}})["result"]["task"]
    sim.call("task.commentitem.add", {"TASKID": task["id"],
                                      "FIELDS": {"POST_MESSAGE": "Add the delivery terms"}})
    _settled(sim)
    with rest.app.app_context():
        check_deadlines(portal_id=current_portal().id)
        check_deadlines(portal_id=current_portal().id)  # the next tick: nothing twice

    got = [c["message"] for c in copies(sim, FEDOROV)]
    last = day_month(monday + WEEK)
    assert all(m.startswith(f"[B]Copy[/B] for О. Никитина, away until {last}; you are the "
                            "deputy.") for m in got)
    expected = ['You have been made responsible for the lead "[URL=/crm/lead/details/'
                f'{lead}/]Excavator[/URL]"',
                'New incoming e-mail "Quote request" from buyer@stroymontazh.example',
                'You have been assigned the task "Send the offer"',
                'New comment on the task "Send the offer": Add the delivery terms',
                'The deadline of the task "Send the offer" is near']
    for text in expected:
        assert sum(text in m for m in got) == 1, (text, got)
    # The demo's history is dated from the day the suite runs: a task of hers already past
    # its deadline by Monday is copied as overdue, once.
    others = [m for m in got if not any(text in m for text in expected)]
    assert all("is overdue" in m for m in others) and len(set(others)) == len(others), others
    # The derived notices read like the portal's own, which it did send to Nikitina.
    own = {n["kind"] for n in inbox(sim, NIKITINA)}
    assert {"crm_assigned", "email_incoming", "task_assigned", "task_comment"} <= own
    assert {d.source_kind for d in deliveries(rest.app)} - {"task_overdue"} == {
        "crm_assigned", "email_incoming", "task_assigned", "task_comment", "task_deadline_soon"}


def test_a_russian_reader_gets_the_derived_notices_in_russian(
        rest: RestSetup, monday: datetime) -> None:
    rest.app.config["PORTAL_LANGUAGE"] = "ru"
    sim = rest.sim
    record_absence(rest.app, NIKITINA, FEDOROV, monday, monday + WEEK)
    freeze(sim, monday + timedelta(hours=2))

    lead = sim.call("crm.lead.add", {"fields": {"TITLE": "Экскаватор", "ASSIGNED_BY_ID":
                                                NIKITINA}})["result"]
    task = sim.call("tasks.task.add", {"fields": {
        "TITLE": "Отправить КП", "RESPONSIBLE_ID": NIKITINA}})["result"]["task"]
    sim.call("task.commentitem.add", {"TASKID": task["id"],
                                      "FIELDS": {"POST_MESSAGE": "Добавьте условия доставки"}})
    _settled(sim)

    got = [c["message"] for c in copies(sim, FEDOROV)]
    assert all(m.startswith("[B]Копия[/B] адресат: О. Никитина") for m in got), got
    for text in ('Вы назначены ответственным: лид «[URL=/crm/lead/details/'
                 f'{lead}/]Экскаватор[/URL]»',
                 "Вам назначена задача «Отправить КП»",
                 "Новый комментарий к задаче «Отправить КП»: Добавьте условия доставки"):
        assert sum(text in m for m in got) == 1, (text, got)
    assert not any("You have been" in m or "New comment" in m for m in got), got


def test_after_the_absence_no_more_copies_and_unchanged_items_are_not_copied(
        rest: RestSetup, monday: datetime) -> None:
    sim = rest.sim
    record_absence(rest.app, NIKITINA, FEDOROV, monday, monday + WEEK)
    freeze(sim, monday + timedelta(hours=1))
    lead = sim.call("crm.lead.add", {"fields": {"TITLE": "Crane", "ASSIGNED_BY_ID":
                                                NIKITINA}})["result"]
    sim.call("crm.lead.update", {"id": lead, "fields": {"TITLE": "Crane, 25 t"}})
    _settled(sim)
    assert len(copies(sim, FEDOROV)) == 1

    freeze(sim, monday + WEEK + timedelta(hours=1))
    sim.call("crm.lead.add", {"fields": {"TITLE": "Loader", "ASSIGNED_BY_ID": NIKITINA}})
    _settled(sim)
    assert len(copies(sim, FEDOROV)) == 1


def test_a_handover_over_rest_makes_no_copies_of_its_own_moves(rest: RestSetup) -> None:
    """Over REST every moved deal comes back as an update event, from which the extension
    derives "you are responsible" for the deputy: the team must not get copies of those."""
    from portal_ext.handover.services import apply_handover, preview_handover
    from portal_ext.portal.clock import portal_now
    from tests.ext.fanout_support import SMIRNOVA, record_team

    sim = rest.sim
    now = sim.clock.now().replace(microsecond=0)
    freeze(sim, now)
    record_team(rest.app, "Desk", ["client_assigned", "deal_change", "new_lead"],
                [NIKITINA, FEDOROV, SMIRNOVA])
    # Deals the extension has seen created (it knows their responsible, so a change of it is
    # a notice it derives and would copy).
    for n in range(5):
        sim.call("crm.deal.add", {"fields": {"TITLE": f"Crane {n}", "ASSIGNED_BY_ID": NIKITINA}})
    _settled(sim)
    before = len(deliveries(rest.app))
    assert before > 0  # the new deals were copied to the team, as they should be
    absence_id = record_absence(rest.app, NIKITINA, FEDOROV, now - timedelta(hours=1),
                                now + timedelta(days=7), now=now)
    with rest.app.app_context():
        portal = current_portal()
        client = client_for(portal)
        batch = preview_handover(portal=portal, client=client, actor=None,
                                 absence_id=absence_id, types=["deal"], include_closed=True,
                                 now=portal_now(client))
        apply_handover(batch=batch, actor=None, confirmed=True, now=portal_now(client),
                       start="now")
        assert batch.state == "applied"
    _settled(sim)
    assert len(deliveries(rest.app)) == before

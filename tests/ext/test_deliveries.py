"""Deliveries: recorded once, sent once (even when sent again), retried with backoff, listed in
the delivery log (page and API) with filters and per-viewer visibility."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal_ext.events.models import InboxEvent
from portal_ext.events.processing import process_event
from portal_ext.extensions import db
from portal_ext.notifications.models import Delivery
from portal_ext.notifications.services import NOTHING_DELIVERED
from portal_ext.portal.clock import host_utcnow
from simulator import Simulator
from tests.ext.fanout_support import (
    ADMIN,
    FEDOROV,
    GRIGORIEVA,
    NIKITINA,
    SMIRNOVA,
    WEEK,
    Outage,
    add_lead,
    bearer,
    body,
    copies,
    deliveries,
    freeze,
    record_absence,
    record_team,
    tick,
)


def _away_with_deputy(app: Flask, sim: Simulator, monday: datetime) -> None:
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    freeze(sim, monday + timedelta(hours=1))


def test_processing_the_same_event_again_sends_no_second_copy(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    _away_with_deputy(app, demo_sim, monday)
    add_lead(demo_sim, "Compressor", NIKITINA)
    with app.app_context():
        row = db.session.scalars(select(InboxEvent).where(
            InboxEvent.event_name == "ONIMNOTIFYADD").order_by(InboxEvent.id)).first()
        assert row is not None and row.state == "done"
        db.session.execute(update(InboxEvent).where(InboxEvent.id == row.id)
                           .values(state="pending", next_attempt_at=None))
        db.session.commit()
        assert process_event(row.id) == "done"

    assert len(copies(demo_sim, FEDOROV)) == 1
    assert len(deliveries(app)) == 1


def test_a_copy_sent_again_after_a_lost_drain_replaces_the_first(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    _away_with_deputy(app, demo_sim, monday)
    add_lead(demo_sim, "Generator", NIKITINA)
    # The drain died after the portal took the copy but before recording it: the row is
    # claimed, its lease long over.
    with app.app_context():
        db.session.execute(update(Delivery).values(
            state="pending", claim_token="deadbeef", sent_at=None,
            claimed_at=host_utcnow() - timedelta(hours=1)))
        db.session.commit()

    tick(app)

    [copy] = copies(demo_sim, FEDOROV)
    assert "Generator" in copy["message"]
    [delivery] = deliveries(app)
    assert (delivery.state, delivery.attempts) == ("sent", 2)
    assert delivery.portal_notification_id == copy["id"]


def test_a_refused_delivery_is_retried_with_growing_delays_then_sent(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    app.config["NOTIFY_RETRY_BASE_SECONDS"] = 30.0
    outage = Outage(app)
    _away_with_deputy(app, demo_sim, monday)
    add_lead(demo_sim, "Pump", NIKITINA)

    [first] = deliveries(app)
    assert (first.state, first.attempts) == ("pending", 1)
    assert "QUERY_LIMIT_EXCEEDED" in (first.error or "")
    assert first.next_attempt_at is not None
    assert timedelta(seconds=25) < first.next_attempt_at - first.created_at < timedelta(
        seconds=40)
    tick(app)  # not due yet: nothing is tried
    assert outage.refused == 1

    with app.app_context():  # time passes
        db.session.execute(update(Delivery).values(next_attempt_at=host_utcnow()))
        db.session.commit()
    tick(app)
    [second] = deliveries(app)
    assert second.attempts == 2 and second.next_attempt_at is not None
    assert timedelta(seconds=55) < second.next_attempt_at - host_utcnow() < timedelta(seconds=65)
    assert copies(demo_sim, FEDOROV) == []

    outage.down = False
    with app.app_context():
        db.session.execute(update(Delivery).values(next_attempt_at=host_utcnow()))
        db.session.commit()
    tick(app)
    [sent] = deliveries(app)
    assert (sent.state, sent.attempts, sent.error) == ("sent", 3, None)
    assert len(copies(demo_sim, FEDOROV)) == 1


def test_a_delivery_fails_after_the_last_attempt_or_when_the_recipient_is_gone(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    app.config.update(NOTIFY_RETRY_BASE_SECONDS=0.0, NOTIFY_MAX_ATTEMPTS=2)
    outage = Outage(app)
    record_team(app, "Equipment sales", ["new_lead"], [NIKITINA, SMIRNOVA, GRIGORIEVA])
    _away_with_deputy(app, demo_sim, monday)
    add_lead(demo_sim, "Mixer", NIKITINA)
    tick(app)
    assert {d.state for d in deliveries(app)} == {"failed"}
    assert all(d.attempts == 2 for d in deliveries(app))

    outage.down = False
    demo_sim.call("user.update", {"ID": SMIRNOVA, "ACTIVE": "N"})
    add_lead(demo_sim, "Mixer, again", NIKITINA)
    later = {d.recipient_portal_user_id: d for d in deliveries(app) if d.attempts == 1}
    assert set(later) == {FEDOROV, GRIGORIEVA}  # the dismissed member is no longer chosen
    assert all(d.state == "sent" for d in later.values())


def test_a_copy_the_portal_refuses_fails_alone_and_the_rest_of_its_batch_is_sent(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    outage = Outage(app)
    record_team(app, "Equipment sales", ["new_lead"], [NIKITINA, SMIRNOVA, GRIGORIEVA])
    _away_with_deputy(app, demo_sim, monday)
    add_lead(demo_sim, "Press", NIKITINA)
    with app.app_context():  # a copy the portal will refuse: nothing to say (MESSAGE_EMPTY)
        db.session.execute(update(Delivery).where(Delivery.recipient_portal_user_id == SMIRNOVA)
                           .values(message="   ", next_attempt_at=None))
        db.session.execute(update(Delivery).values(next_attempt_at=None))
        db.session.commit()
    outage.down = False
    tick(app)

    states = {d.recipient_portal_user_id: (d.state, d.error) for d in deliveries(app)}
    assert states[SMIRNOVA][0] == "failed" and "MESSAGE_EMPTY" in str(states[SMIRNOVA][1])
    assert states[FEDOROV] == states[GRIGORIEVA] == ("sent", None)
    assert len(copies(demo_sim, FEDOROV)) == len(copies(demo_sim, GRIGORIEVA)) == 1
    assert copies(demo_sim, SMIRNOVA) == []


def test_a_copy_to_someone_dismissed_meanwhile_is_recorded_as_failed(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    outage = Outage(app)
    _away_with_deputy(app, demo_sim, monday)
    add_lead(demo_sim, "Drill", NIKITINA)
    demo_sim.call("user.update", {"ID": FEDOROV, "ACTIVE": "N"})
    outage.down = False
    app.config["NOTIFY_RETRY_BASE_SECONDS"] = 0.0
    with app.app_context():
        db.session.execute(update(Delivery).values(next_attempt_at=host_utcnow()))
        db.session.commit()
    tick(app)

    [delivery] = deliveries(app)
    assert (delivery.state, delivery.error) == ("failed", NOTHING_DELIVERED)
    assert copies(demo_sim, FEDOROV) == []


def _two_reasons(app: Flask, sim: Simulator, monday: datetime) -> None:
    record_team(app, "Equipment sales", ["new_lead"], [NIKITINA, FEDOROV, GRIGORIEVA])
    record_team(app, "Containers", ["new_lead"], [SMIRNOVA, GRIGORIEVA])
    _away_with_deputy(app, sim, monday)
    add_lead(sim, "Boiler", NIKITINA)  # Fedorov: deputy+team; Grigorieva: team
    add_lead(sim, "Tank", SMIRNOVA)  # Grigorieva: team


def test_the_api_filters_the_log_by_user_reason_state_and_time(
        app: Flask, client: FlaskClient, demo_sim: Simulator, monday: datetime) -> None:
    _two_reasons(app, demo_sim, monday)
    headers = bearer(app, ADMIN)

    def ids(**query: object) -> list[tuple[int, str]]:
        answer = client.get("/api/v1/deliveries", headers=headers, query_string=query)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return sorted((d["recipient_id"], d["reason"]) for d in body(answer)["items"])

    assert ids() == [(FEDOROV, "deputy+team"), (GRIGORIEVA, "team"), (GRIGORIEVA, "team")]
    assert ids(reason="deputy") == [(FEDOROV, "deputy+team")]
    assert ids(user=SMIRNOVA) == [(GRIGORIEVA, "team")]
    assert ids(user=FEDOROV, state="sent") == [(FEDOROV, "deputy+team")]
    assert ids(state="failed") == []
    assert ids(since=(host_utcnow() + timedelta(hours=1)).isoformat()) == []
    assert len(ids(until=(host_utcnow() + timedelta(hours=1)).isoformat())) == 3

    answer = client.get("/api/v1/deliveries", headers=headers, query_string={"reason": "x"})
    assert (answer.status_code, body(answer)["error"]["field"]) == (422, "reason")
    answer = client.get("/api/v1/deliveries", headers=headers, query_string={"who": 5})
    assert (answer.status_code, body(answer)["error"]["field"]) == (400, "who")


def test_an_employee_sees_only_the_deliveries_that_concern_them(
        app: Flask, client: FlaskClient, demo_sim: Simulator, monday: datetime) -> None:
    _two_reasons(app, demo_sim, monday)

    answer = client.get("/api/v1/deliveries", headers=bearer(app, SMIRNOVA))
    assert [(d["owner_id"], d["recipient_id"]) for d in body(answer)["items"]] == [
        (SMIRNOVA, GRIGORIEVA)]
    answer = client.get("/api/v1/deliveries", headers=bearer(app, FEDOROV))
    [mine] = body(answer)["items"]
    assert mine["reasons"][0]["kind"] == "deputy" and mine["reasons"][1]["team_name"] == (
        "Equipment sales")


def test_the_log_page_shows_why_each_copy_was_sent_and_filters(
        app: Flask, client: FlaskClient, login_as: object, demo_sim: Simulator,
        monday: datetime) -> None:
    _two_reasons(app, demo_sim, monday)
    login_as(client, "admin@demo.portal")  # type: ignore[operator]

    page = client.get("/deliveries").get_data(as_text=True)
    assert page.count('class="reason"') == 3
    assert "deputy for Ольга Никитина; team Equipment sales" in page
    team_only = client.get("/deliveries", query_string={"reason": "team",
                                                         "user": SMIRNOVA}).get_data(
        as_text=True)
    assert team_only.count('class="reason"') == 1 and "team Containers" in team_only
    later = (monday + timedelta(days=400)).date().isoformat()
    empty = client.get("/deliveries", query_string={"from": later}).get_data(as_text=True)
    assert "No deliveries match these filters." in empty

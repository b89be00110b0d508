"""Fan-out in-process: the portal's own notifications, copied to deputies and teams, seen in the
simulated portal's inboxes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.notifications.sources import COPY_TAG_PREFIX
from portal_ext.portal.clock import host_utcnow
from simulator import Simulator
from tests.ext.fanout_support import (
    ADMIN,
    FEDOROV,
    GRIGORIEVA,
    HEAD,
    KUZNETSOV,
    NIKITINA,
    SMIRNOVA,
    WEEK,
    add_lead,
    copies,
    day_month,
    deliveries,
    freeze,
    inbox,
    record_absence,
    record_team,
)


@pytest.fixture(autouse=True)
def _english_portal(app: Flask) -> None:
    """These tests read the copies' and summaries' English wording: an English portal."""
    app.config["PORTAL_LANGUAGE"] = "en"


def test_deputy_receives_a_marked_copy_of_a_lead_assigned_to_the_absent_user(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    freeze(demo_sim, monday + timedelta(hours=2))

    lead_id = add_lead(demo_sim, "Excavator for Stroymontazh", NIKITINA)

    original = [n for n in inbox(demo_sim, NIKITINA) if n["kind"] == "crm_assigned"]
    assert len(original) == 1
    [copy] = copies(demo_sim, FEDOROV)
    last = day_month(monday + WEEK)
    assert copy["message"].startswith(f"[B]Copy[/B] for О. Никитина, away until {last}; "
                                      "you are the deputy.")
    assert "Excavator for Stroymontazh" in copy["message"]
    assert f"[URL=/crm/lead/details/{lead_id}/]" in copy["message"]
    [delivery] = deliveries(app)
    assert (delivery.recipient_portal_user_id, delivery.reason, delivery.state) == (
        FEDOROV, "deputy", "sent")
    assert delivery.source_notification_id == original[0]["id"]
    assert copy["tag"] == f"{COPY_TAG_PREFIX}{delivery.id}"


def test_no_copies_before_the_absence_starts_or_after_it_ends(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    freeze(demo_sim, monday - timedelta(minutes=1))
    add_lead(demo_sim, "Before", NIKITINA)
    freeze(demo_sim, monday + WEEK)
    add_lead(demo_sim, "After", NIKITINA)
    freeze(demo_sim, monday)
    add_lead(demo_sim, "During", NIKITINA)

    assert ["During" in c["message"] for c in copies(demo_sim, FEDOROV)] == [True]


def test_the_person_who_caused_the_notification_gets_no_copy(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    freeze(demo_sim, monday + timedelta(hours=1))

    add_lead(demo_sim, "Handed over by the deputy himself", NIKITINA, by=FEDOROV)

    assert copies(demo_sim, FEDOROV) == []
    assert deliveries(app) == []


def test_team_members_get_copies_of_the_kinds_the_team_shares_only(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    record_team(app, "Equipment sales", ["new_lead"], [NIKITINA, FEDOROV, GRIGORIEVA])
    freeze(demo_sim, monday)

    add_lead(demo_sim, "Crane", NIKITINA)
    task = demo_sim.call("tasks.task.add", {"fields": {"TITLE": "Call back",
                                                       "RESPONSIBLE_ID": NIKITINA}})

    assert task["result"]["task"]["id"]
    for member in (FEDOROV, GRIGORIEVA):
        [copy] = copies(demo_sim, member)
        assert "team Equipment sales" in copy["message"] and "Crane" in copy["message"]
    assert copies(demo_sim, NIKITINA) == []
    assert copies(demo_sim, SMIRNOVA) == []


def test_a_deputy_in_the_owners_team_gets_one_copy_with_both_reasons(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    record_team(app, "Equipment sales", ["new_lead"], [NIKITINA, FEDOROV, GRIGORIEVA])
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    freeze(demo_sim, monday + timedelta(hours=3))

    add_lead(demo_sim, "Loader", NIKITINA)

    [copy] = copies(demo_sim, FEDOROV)
    assert "you are the deputy; team Equipment sales." in copy["message"]
    reasons = {d.recipient_portal_user_id: d.reason for d in deliveries(app)}
    assert reasons == {FEDOROV: "deputy+team", GRIGORIEVA: "team"}


def test_an_absent_team_member_is_replaced_by_their_deputy_and_dismissed_ones_get_nothing(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    record_team(app, "Containers", ["new_lead"], [SMIRNOVA, KUZNETSOV, GRIGORIEVA])
    record_absence(app, KUZNETSOV, FEDOROV, monday, monday + WEEK)
    demo_sim.call("user.update", {"ID": GRIGORIEVA, "ACTIVE": "N"})
    freeze(demo_sim, monday + timedelta(hours=1))

    add_lead(demo_sim, "Container yard", SMIRNOVA)

    [copy] = copies(demo_sim, FEDOROV)
    assert "in place of Р. Кузнецов, who is away" in copy["message"]
    assert copies(demo_sim, KUZNETSOV) == []
    assert copies(demo_sim, GRIGORIEVA) == []
    assert {d.recipient_portal_user_id for d in deliveries(app)} == {FEDOROV}


def test_copies_are_never_copied_again(app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    # Fedorov is away too: his deputy Grigorieva covers for Nikitina, and shares every message
    # with her team. A copy reaching Grigorieva must not travel on to her team.
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    record_absence(app, FEDOROV, GRIGORIEVA, monday, monday + WEEK)
    record_team(app, "Marketing friends", ["message", "new_lead"], [GRIGORIEVA, SMIRNOVA])
    freeze(demo_sim, monday + timedelta(hours=1))

    add_lead(demo_sim, "Forklift", NIKITINA)

    [copy] = copies(demo_sim, GRIGORIEVA)
    assert "you cover for the deputy А. Фёдоров, who is away too" in copy["message"]
    assert copies(demo_sim, FEDOROV) == [] and copies(demo_sim, SMIRNOVA) == []
    assert len(deliveries(app)) == 1
    # The copy's own event is recognised at intake: only Nikitina's notification was stored.
    with app.app_context():
        stored = list(db.session.scalars(select(InboxEvent).where(
            InboxEvent.event_name == "ONIMNOTIFYADD")))
    assert [row.payload["after"]["user_id"] for row in stored] == [NIKITINA]


def test_a_burst_through_the_background_worker_copies_every_notification_once(
        demo_sim: Simulator, ext_database_url: str, monday: datetime) -> None:
    from portal_ext.directory.services import sync_directory
    from portal_ext.jobs import ThreadRunner, runner_for
    from portal_ext.portal.registration import client_for, current_portal
    from tests.ext.conftest import build_app, dispose_app

    app = build_app(demo_sim, ext_database_url, TASK_RUNNER="thread")
    runner = runner_for(app)
    assert isinstance(runner, ThreadRunner)
    try:
        with app.app_context():
            portal = current_portal()
            sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())
        assert runner.drain(30)
        record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
        freeze(demo_sim, monday + timedelta(hours=1))
        for number in range(30):
            add_lead(demo_sim, f"Pallet {number}", NIKITINA)
        assert runner.drain(60)
        received = sorted(re.findall(r"Pallet \d+", c["message"])[0]
                          for c in copies(demo_sim, FEDOROV))
        assert received == sorted(f"Pallet {number}" for number in range(30))
        with app.app_context():
            states = set(db.session.scalars(select(InboxEvent.state)))
        assert states == {"done"}
    finally:
        runner.stop()
        dispose_app(app)


def test_a_notification_that_fails_in_a_batch_does_not_hold_back_the_others(
        app: Flask, demo_sim: Simulator, monkeypatch: pytest.MonkeyPatch, monday: datetime) -> None:
    from portal_ext.events import processing
    from portal_ext.notifications import services

    app.config["EVENT_RETRY_BASE_SECONDS"] = 30.0
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    record_absence(app, SMIRNOVA, KUZNETSOV, monday, monday + WEEK)
    freeze(demo_sim, monday + timedelta(hours=1))
    with monkeypatch.context() as later:  # the events wait in the inbox, to go as one batch
        later.setattr(processing, "queue_processing", lambda *args, **kwargs: None)
        add_lead(demo_sim, "Crane", NIKITINA)
        add_lead(demo_sim, "Winch", SMIRNOVA)
        add_lead(demo_sim, "Hoist", NIKITINA)
    real_decide = services.decide

    def decide(notice: Any, roster: Any, teams: Any) -> Any:
        if notice.owner_id == SMIRNOVA:
            raise RuntimeError("the rules broke on purpose")
        return real_decide(notice, roster, teams)

    monkeypatch.setattr(services, "decide", decide)
    with app.app_context():
        counts = processing.process_pending()
    assert counts.get("retry") == 1 and counts.get("done", 0) >= 2
    assert sorted(c["message"].count("Crane") + 2 * c["message"].count("Hoist")
                  for c in copies(demo_sim, FEDOROV)) == [1, 2]
    assert copies(demo_sim, KUZNETSOV) == []

    monkeypatch.setattr(services, "decide", real_decide)
    with app.app_context():
        assert processing.reconcile(now=host_utcnow() + timedelta(hours=1)) == 1
    [copy] = copies(demo_sim, KUZNETSOV)
    assert "Winch" in copy["message"]


def test_the_head_covers_when_the_absence_names_no_deputy(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    record_absence(app, NIKITINA, None, monday, monday + WEEK)
    freeze(demo_sim, monday)

    add_lead(demo_sim, "Grader", NIKITINA)

    [copy] = copies(demo_sim, HEAD)
    assert f"away until {day_month(monday + WEEK)}; you head the department." in copy["message"]
    assert copies(demo_sim, ADMIN) == []


def test_copies_are_written_in_the_configured_language(
        app: Flask, demo_sim: Simulator, monday: datetime) -> None:
    app.config["PORTAL_LANGUAGE"] = "ru"
    record_absence(app, NIKITINA, FEDOROV, monday, monday + WEEK)
    freeze(demo_sim, monday)

    demo_sim.call("tasks.task.add", {"fields": {"TITLE": "Позвонить", "RESPONSIBLE_ID":
                                                NIKITINA}})

    [copy] = copies(demo_sim, FEDOROV)
    assert copy["message"].startswith(
        f"[B]Копия[/B] адресат: О. Никитина, отсутствует до {day_month(monday + WEEK, 'ru')}; "
        "вы заместитель.[BR]")
    assert copy["message"].endswith("]Открыть на портале[/URL]")

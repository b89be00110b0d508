"""A real Celery worker on Redis and PostgreSQL, killed with SIGKILL in the middle of a burst of
1,000 portal notifications: after a new worker starts and the periodic tick runs, every copy
the rules call for is in the portal's inboxes exactly once (counted by tag in the simulator's
notification table).

What makes it hold: the inbox and the outbox live in the database (a killed task's events are
re-queued by the tick), claims with a lease (a batch claimed by the dead worker is taken back
after NOTIFY_LEASE_SECONDS), and the copy's tag (a batch sent again replaces, not repeats).

Runs in the PostgreSQL tier (PORTAL_EXT_TEST_DATABASE_URL set); there it requires PostgreSQL
and Redis on 127.0.0.1 (skipped on a laptop without them, a failure in CI).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from bench import fanout_workload as wl
from portal_ext.absences.roster import build_roster
from portal_ext.extensions import db
from portal_ext.notifications import index, services
from portal_ext.notifications.models import Delivery
from portal_ext.notifications.sources import Notice, copy_tag
from portal_ext.portal.registration import close_clients, current_portal
from simulator import Simulator
from tests.conftest import TEST_DATABASE_URL
from tests.ext.celery_support import Worker, broker_url, fresh_services, worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

BROKER = broker_url(14)  # this test's own broker database, flushed at the start
BURST = 1000
WORKLOAD = wl.Workload(absences=10, team_size=5)
LEASE_SECONDS = 20  # well above a loaded batch, so only the dead worker's batches expire
QUIET = {"TICK_SECONDS": "3600", "ABSENCE_CHART_POLL_SECONDS": "1e9",
         "DIRECTORY_SYNC_SECONDS": "1e9", "NOTIFY_LEASE_SECONDS": str(LEASE_SECONDS),
         "EVENT_STUCK_SECONDS": "3", "NOTIFY_RETRY_BASE_SECONDS": "1"}


@pytest.fixture
def setup() -> Iterator[tuple[Simulator, Flask, dict[str, str]]]:
    from wsgi import wire_simulated

    fresh_services(BROKER)
    sim = wl.new_portal(TEST_DATABASE_URL)
    app = wire_simulated(sim, {"TESTING": True, "DATABASE_URL": TEST_DATABASE_URL,
                               "TASK_RUNNER": "celery", "CELERY_BROKER_URL": BROKER,
                               **{k: float(v) for k, v in QUIET.items()}})
    wl.prepare(app, WORKLOAD)
    env = worker_env(database_url=TEST_DATABASE_URL, broker=BROKER, **QUIET)
    yield sim, app, env
    sim.bus.clear_subscribers()
    close_clients(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    sim.engine.dispose()


def expected_copies(app: Flask) -> int:
    """What the rules call for, decided here from the same burst."""
    owners = WORKLOAD.owners
    with app.app_context():
        portal_id = current_portal().id
        roster = build_roster(portal_id=portal_id, at=wl.START)
        teams = index.team_index(portal_id)
        return sum(len(services.decide(Notice(
            key=str(n), owner_id=owners[n % len(owners)], portal_kind=wl.KINDS[n % 6][0],
            message="", at=wl.START, entity_type=wl.KINDS[n % 6][1], actor_id=1),
            roster, teams)) for n in range(BURST))


def test_copies_survive_a_killed_worker_and_arrive_exactly_once(
        setup: tuple[Simulator, Flask, dict[str, str]], tmp_path: Path) -> None:
    sim, app, env = setup
    expected = expected_copies(app)
    first = Worker(env, "first", tmp_path / "first.log")
    second: Worker | None = None
    try:
        first.wait_ready()
        # The portal keeps publishing while the worker dies (the burst outlasts the kill).
        burst = threading.Thread(target=wl.publish, args=(sim, WORKLOAD, BURST))
        burst.start()
        deadline = time.monotonic() + 120
        while sum(wl.copies_by_tag(sim).values()) < 100 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.kill()
        before = sum(wl.copies_by_tag(sim).values())
        burst.join(120)
        assert 100 <= before < expected, "the kill did not land mid-burst"

        second = Worker(env, "second", tmp_path / "second.log")
        second.wait_ready()
        celery = app.extensions["celery"]
        state = wl.wait_until_settled(  # the beat's tick, a little more often than a minute
            app, expected_events=BURST, timeout=600,
            nudge=lambda: celery.send_task("portal_ext.jobs.tick"))
    finally:
        first.stop()
        if second is not None:
            second.stop()

    tags = wl.copies_by_tag(sim)
    with app.app_context():
        sent = {copy_tag(i) for i in db.session.scalars(db.select(Delivery.id))}
    assert state["failed"] == 0 and state["sent"] == expected == len(sent)
    assert set(tags) == sent, "a copy is missing or was never recorded"
    assert set(tags.values()) == {1}, "a copy shows twice in someone's inbox"

"""A real Celery worker on Redis and PostgreSQL, killed with SIGKILL in the middle of a batch
whose every task was also queued twice (as a redelivery does): after a new worker starts and
the reconcile tick runs, every event has been processed, and its effect happened exactly once
(reliability.md §1.1, §1.6: acks_late, reject_on_worker_lost, idempotent tasks; the database,
not the broker, knows what is left to do).

Runs in the PostgreSQL tier (PORTAL_EXT_TEST_DATABASE_URL set); there it requires PostgreSQL
and Redis on 127.0.0.1 (skipped on a laptop without them, a failure in CI).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal_ext import create_app, jobs
from portal_ext.events import accept_inprocess_event
from portal_ext.events.models import DONE, InboxEvent
from portal_ext.events.processing import process_event, reconcile
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from tests.conftest import TEST_DATABASE_URL
from tests.ext import effects
from tests.ext.celery_support import Worker, broker_url, fresh_services
from tests.ext.celery_support import worker_env as celery_worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

REDIS_DB = 13  # this test's own broker database, flushed at the start
EVENTS = 20
HANDLER_SECONDS = 0.3
STUCK_SECONDS = 3


def broker() -> str:
    return broker_url(REDIS_DB)


@pytest.fixture
def worker_env() -> dict[str, str]:
    fresh_services(broker())
    return celery_worker_env(database_url=TEST_DATABASE_URL, broker=broker(),
                             EXTRA_MODULES="tests.ext.effects")


@pytest.fixture
def producer(worker_env: dict[str, str]) -> Iterator[Flask]:
    """This process's side: accepts events and queues them on the broker."""
    app = create_app({"TESTING": True, "DATABASE_URL": TEST_DATABASE_URL, "TASK_RUNNER": "celery",
                      "CELERY_BROKER_URL": broker(), "EVENT_STUCK_SECONDS": STUCK_SECONDS})
    with app.app_context():
        effects.reset(db.engine)
    yield app
    with app.app_context():
        db.engine.dispose()


def effect_total(app: Flask) -> int:
    with app.app_context():
        return sum(effects.effects_per_inbox(db.engine).values())


def test_events_survive_a_killed_worker_and_take_effect_exactly_once(
        producer: Flask, worker_env: dict[str, str], tmp_path: Path) -> None:
    first = Worker(worker_env, "first", tmp_path / "first.log")
    second: Worker | None = None
    try:
        first.wait_ready()
        inbox_ids = []
        with producer.app_context():
            for n in range(EVENTS):
                inbox_id = accept_inprocess_event({
                    "name": effects.EVENT, "id": f"batch-{n}", "ts": 1,
                    "data": {"FIELDS": {"ID": str(n)}, "sleep": HANDLER_SECONDS}})
                assert inbox_id is not None
                jobs.enqueue(process_event, inbox_id)  # twice, as a broker redelivery would
                inbox_ids.append(inbox_id)
        deadline = time.monotonic() + 30
        while effect_total(producer) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.kill()
        done_before_kill = effect_total(producer)
        assert 4 <= done_before_kill < EVENTS, "the kill did not land mid-batch"

        second = Worker(worker_env, "second", tmp_path / "second.log")
        second.wait_ready()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with producer.app_context():
                reconcile(now=host_utcnow())  # what the beat tick does every minute
                done = db.session.scalar(select(func.count()).select_from(InboxEvent)
                                         .where(InboxEvent.state == DONE))
            if done == EVENTS:
                break
            time.sleep(1)
        with producer.app_context():
            states = dict(db.session.execute(select(InboxEvent.id, InboxEvent.state)).all())
            per_event = effects.effects_per_inbox(db.engine)
        assert states == dict.fromkeys(inbox_ids, DONE), (tmp_path / "second.log").read_text()
        assert per_event == dict.fromkeys(inbox_ids, 1)
    finally:
        first.stop()
        if second is not None:
            second.stop()

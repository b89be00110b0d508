"""A real Celery worker on Redis and PostgreSQL, killed with SIGKILL in the middle of handing
over 20,000 items: a new worker takes the batch over once the dead one's lease runs out (the
tick finds it), and in the end the journal and the portal agree item by item: every item is
with the deputy, journaled ``moved``, and no item was written twice (reliability.md §1.1,
§1.2, §2: short chunked tasks, the database knows what is left, idempotent chunks).

Runs in the PostgreSQL tier (PORTAL_EXT_TEST_DATABASE_URL set); there it requires PostgreSQL
and Redis on 127.0.0.1 (skipped on a laptop without them, a failure in CI).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from bench import handover_workload as wl
from portal_ext import create_app, jobs
from portal_ext.absences.models import Absence
from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.moves import engine
from portal_ext.moves.models import MOVED, MoveBatch, MoveItem
from portal_ext.moves.tasks import apply_batch, resume_batches
from simulator import Simulator
from tests.conftest import TEST_DATABASE_URL
from tests.ext.celery_support import Worker, broker_url, fresh_services, worker_env
from tests.ext.handover_support import journal, new_batch
from wsgi import simulator_dispatch

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

ITEMS = int(os.environ.get("HANDOVER_WORKER_ITEMS", "20000"))  # fewer for a quick local run
CHUNK = 500
LEASE_SECONDS = 30  # longer than one request of 50 writes takes on a loaded machine
# A test database may skip waiting for the disk on commit (the portal's and the extension's
# writes are what is under test, not the disk's durability).
FAST_COMMITS = "options=-c%20synchronous_commit%3Doff"
UPDATE_EVENTS = ("ONCRMLEADUPDATE", "ONCRMDEALUPDATE", "ONCRMCONTACTUPDATE",
                 "ONCRMCOMPANYUPDATE", "ONCRMQUOTEUPDATE", "ONCRMDYNAMICITEMUPDATE",
                 "ONCRMACTIVITYUPDATE", "ONTASKUPDATE")


def database_url() -> str:
    return TEST_DATABASE_URL + ("&" if "?" in TEST_DATABASE_URL else "?") + FAST_COMMITS


BROKER = broker_url(15)  # this test's own (13 and 14 belong to the other worker tests)


@pytest.fixture
def handover_env() -> dict[str, str]:
    fresh_services(BROKER)
    # Jobs of up to a minute: the continuation of a shorter one would queue behind the
    # thousands of portal events its chunk produced (one queue; still correct, only slower).
    return worker_env(database_url=database_url(), broker=BROKER,
                      HANDOVER_CHUNK_SIZE=str(CHUNK), HANDOVER_LEASE_SECONDS=str(LEASE_SECONDS),
                      HANDOVER_JOB_SECONDS="60")


@pytest.fixture
def portal(handover_env: dict[str, str]) -> Iterator[Simulator]:
    sim = Simulator(database_url(), webhook_token="testtoken")
    wl.empty_portal(sim)
    wl.add_client_base(sim, ITEMS)
    yield sim
    sim.bus.clear_subscribers()
    sim.engine.dispose()


@pytest.fixture
def producer(portal: Simulator) -> Iterator[Flask]:
    """This process: plans the handover (in-process calls) and queues its job on the broker."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(), "TASK_RUNNER": "celery",
                      "CELERY_BROKER_URL": BROKER,
                      "PORTAL_DISPATCH": simulator_dispatch(portal)})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def away(portal_id: int) -> int:
    now = datetime.now(UTC).replace(tzinfo=None)
    absence = Absence(portal_id=portal_id, user_id=wl.OWNER, deputy_id=wl.DEPUTY,
                      start=now - timedelta(hours=1), end=now + timedelta(days=7),
                      recorded_at=now, updated_at=now, state="active")
    db.session.add(absence)
    db.session.flush()
    return int(absence.id)


def moved_count(batch_id: int) -> int:
    db.session.rollback()  # a fresh snapshot
    return int(db.session.scalar(select(func.count()).select_from(MoveItem).where(
        MoveItem.batch_id == batch_id, MoveItem.state == MOVED)) or 0)


@pytest.mark.timeout(3600)
def test_a_worker_killed_mid_handover_loses_and_doubles_nothing(
        producer: Flask, portal: Simulator, handover_env: dict[str, str],
        tmp_path: Path) -> None:
    first = Worker(handover_env, "first", tmp_path / "first.log")
    second: Worker | None = None
    try:
        first.wait_ready()
        batch = new_batch(owner=wl.OWNER, to=wl.DEPUTY)
        assert sum(batch.counts.values()) == ITEMS
        batch.absence_id = away(batch.portal_id)  # running for a week: nothing restores it
        engine.start_phase(batch, "applying")
        db.session.commit()
        jobs.enqueue(apply_batch, batch.id)

        deadline = time.monotonic() + 600
        while moved_count(batch.id) < 3 * CHUNK and time.monotonic() < deadline:
            time.sleep(0.2)
        first.kill()
        done_before_kill = moved_count(batch.id)
        assert 3 * CHUNK <= done_before_kill < ITEMS, "the kill did not land mid-handover"

        second = Worker(handover_env, "second", tmp_path / "second.log")
        second.wait_ready()
        deadline = time.monotonic() + 3300  # tens of items a second on a busy 2-CPU machine
        while time.monotonic() < deadline:
            resume_batches(batch.portal_id)  # what the beat tick does every minute
            db.session.rollback()
            state = db.session.scalar(select(MoveBatch.state).where(MoveBatch.id == batch.id))
            if state == "applied":
                break
            time.sleep(2)
        assert state == "applied", (tmp_path / "second.log").read_text()[-3000:]

        rows = journal(batch.id)
        holders = wl.holders_of(portal)
        assert len(rows) == ITEMS
        assert {row.state for row in rows.values()} == {MOVED}
        assert {key: holders[key] for key in rows} == dict.fromkeys(rows, wl.DEPUTY)
        # No item was written twice: at most one update event per item reached the inbox
        # (one in flight when the worker died may be missing: the portal had committed it).
        doubled = db.session.execute(
            select(InboxEvent.event_name, InboxEvent.entity_id, func.count())
            .where(InboxEvent.event_name.in_(UPDATE_EVENTS))
            .group_by(InboxEvent.event_name, InboxEvent.entity_id)
            .having(func.count() > 1)).all()
        assert doubled == []
        events = db.session.scalar(select(func.count()).select_from(InboxEvent).where(
            InboxEvent.event_name.in_(UPDATE_EVENTS)))
        assert ITEMS - 50 <= (events or 0) <= ITEMS
    finally:
        first.stop()
        if second is not None:
            second.stop()

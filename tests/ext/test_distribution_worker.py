"""A real Celery worker on Redis and PostgreSQL, killed with SIGKILL in the middle of 200 visit
reports: a new worker and the distribution tick (stalled runs queued again) finish them, and
in the end every report has exactly one deal per ticked line and one control task on the
portal, and the extension records those (reliability.md §1: idempotent jobs, the database
and the portal, not the broker, know what is left; a run looks up what it wrote before).

Runs in the PostgreSQL tier (PORTAL_EXT_TEST_DATABASE_URL set); there it requires PostgreSQL
and Redis on 127.0.0.1 (skipped on a laptop without them, a failure in CI).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from bench import distribution_workload as wl
from portal_ext import create_app
from portal_ext.directory.models import PortalUser
from portal_ext.distribution import services
from portal_ext.distribution.models import DONE, VisitReport
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import client_for, current_portal
from simulator import Simulator
from simulator.crm import tables as crm_tables
from simulator.tasks import tables as tasks_tables
from tests.conftest import TEST_DATABASE_URL
from tests.ext.celery_support import Worker, broker_url, fresh_services, worker_env
from wsgi import simulator_dispatch

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

REPORTS = 200
STALE_SECONDS = 1  # a run not finished this long after it started is taken up again
BROKER = broker_url(5)  # this test's own broker database
FAST_COMMITS = "options=-c%20synchronous_commit%3Doff"


def database_url() -> str:
    return TEST_DATABASE_URL + ("&" if "?" in TEST_DATABASE_URL else "?") + FAST_COMMITS


@pytest.fixture
def env() -> dict[str, str]:
    fresh_services(BROKER)
    return worker_env(database_url=database_url(), broker=BROKER, PORTAL_LANGUAGE="en",
                      DISTRIBUTION_STALE_SECONDS=str(STALE_SECONDS))


@pytest.fixture
def portal(env: dict[str, str]) -> Iterator[tuple[Simulator, list[int]]]:
    sim = Simulator(database_url(), webhook_token="testtoken")
    leads = wl.set_up(sim, REPORTS)
    yield sim, leads
    sim.bus.clear_subscribers()
    sim.engine.dispose()


@pytest.fixture
def producer(portal: tuple[Simulator, list[int]]) -> Iterator[Flask]:
    """This process: files the reports (decisions in-process) and queues their runs."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(), "TASK_RUNNER": "celery",
                      "CELERY_BROKER_URL": BROKER, "PORTAL_LANGUAGE": "en",
                      "DISTRIBUTION_STALE_SECONDS": STALE_SECONDS,
                      "PORTAL_DISPATCH": simulator_dispatch(portal[0])})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def done_count() -> int:
    db.session.rollback()  # a fresh snapshot
    return int(db.session.scalar(select(func.count()).select_from(VisitReport).where(
        VisitReport.state == DONE)) or 0)


@pytest.mark.timeout(600)
def test_a_worker_killed_mid_batch_leaves_every_report_with_its_deals_and_one_task(
        producer: Flask, portal: tuple[Simulator, list[int]], env: dict[str, str],
        tmp_path: Path) -> None:
    sim, leads = portal
    site = current_portal()
    line_ids = wl.configure(portal=site, client=client_for(site), now=host_utcnow())
    admin = db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == site.id, PortalUser.portal_user_id == 1)).one()
    first = Worker(env, "first", tmp_path / "first.log")
    second: Worker | None = None
    try:
        first.wait_ready()
        for n, lead in enumerate(leads):  # filed while the worker runs the ones before
            services.submit_report(
                portal=site, client=client_for(site), actor=admin, now=host_utcnow(),
                data=services.ReportInput(lead, wl.report_lines(n, line_ids)))
            if second is None and n % 5 == 4 and done_count() >= 20:
                first.kill()
                second = Worker(env, "second", tmp_path / "second.log")
        deadline = time.monotonic() + 120
        while second is None and done_count() < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        if second is None:
            first.kill()
            second = Worker(env, "second", tmp_path / "second.log")
        assert done_count() < REPORTS, "the kill did not land mid-batch"
        second.wait_ready()
        deadline = time.monotonic() + 300
        ticked = 0.0
        while done_count() < REPORTS and time.monotonic() < deadline:
            failed = db.session.scalars(select(VisitReport.error).where(
                VisitReport.state == "failed")).all()
            assert not failed, failed
            if time.monotonic() - ticked > 5:  # what the beat tick does (every minute)
                ticked = time.monotonic()
                services.resume_stale(site.id, now=host_utcnow(),
                                      stale=timedelta(seconds=STALE_SECONDS))
                db.session.commit()
            time.sleep(0.5)
        assert done_count() == REPORTS, (tmp_path / "second.log").read_text()[-3000:]
    finally:
        first.stop()
        if second is not None:
            second.stop()

    reports = {r.id: r for r in db.session.scalars(select(VisitReport))}
    with sim.engine.connect() as conn:
        items = crm_tables.crm_items.c
        origins = Counter(str((fields or {}).get("ORIGIN_ID")) for fields in conn.scalars(
            select(items.fields).where(items.entity_type_id == 2)))
        titles = Counter(title.split(":")[0] for title in conn.scalars(
            select(tasks_tables.tasks.c.title).where(
                tasks_tables.tasks.c.title.like("Visit report #%"))))
    expected = {services.origin_id(r.id, line) for r in reports.values() for line in r.line_ids}
    assert set(origins) == expected and set(origins.values()) == {1}  # no deal twice
    assert titles == Counter({f"Visit report #{r}": 1 for r in reports})  # one task each
    for report in reports.values():
        assert len(report.deals) == len(report.line_ids) and report.control_task_id
        assert report.lead_converted

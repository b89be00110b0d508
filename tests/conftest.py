"""Shared fixtures. Tests that need PostgreSQL, Redis or Chromium skip with a reason on a
laptop that lacks them and fail in CI (CI=true), where they must be present."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, make_url, select, text
from sqlalchemy.exc import OperationalError

from simulator import Simulator
from simulator.calendar import tables as calendar_tables
from simulator.core import tables as core_tables
from tests.clock import TestClock, Travel, as_of_option

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI, when a real server or tool the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


_travel = Travel()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--as-of", dest="as_of", default=None, metavar="WHEN",
        help="run as of another day: YYYY-MM-DD (10:00 portal time), YYYY-MM-DDThh:mm, or +N "
             "days (env PORTAL_EXT_TEST_AS_OF); see tests/clock.py")


def pytest_configure(config: pytest.Config) -> None:
    _travel.start(as_of_option(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    _travel.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    if _travel.destination is None:
        return None
    return f"as of {_travel.destination.isoformat()} (time-machine, ticking)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for the test clock reads a date: it is ``dated``."""
    for item in items:
        if "test_clock" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dated)


def worker_database(url: str) -> str:
    """The PostgreSQL tier's database for this test process: with two processes (pytest-xdist),
    each has its own, ``<database>_<worker>`` (created when missing), so neither empties the
    other's tables. An unreachable server is left for the tests to report."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    try:
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                           {"name": own.database}) is None:
                conn.execute(text(f'CREATE DATABASE "{own.database}"'))
        engine.dispose()
    except OperationalError:
        pass
    return own.render_as_string(hide_password=False)


TEST_DATABASE_URL = worker_database(os.environ.get("PORTAL_EXT_TEST_DATABASE_URL", ""))


def simulator_database_url(tmp_path: Path) -> str:
    """A private SQLite file, or the PostgreSQL test database in the PostgreSQL tier."""
    return TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'sim.db'}"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    """An empty simulated portal (SQLite file, or PostgreSQL in the PostgreSQL tier)."""
    portal = Simulator(simulator_database_url(tmp_path), webhook_token="testtoken")
    portal.reset()
    with portal.engine.begin() as conn:  # reset keeps installed applications; a test starts bare
        conn.execute(delete(core_tables.apps))
    portal.clock.unfreeze()
    yield portal
    portal.bus.clear_subscribers()
    portal.engine.dispose()


@pytest.fixture
def demo_sim(sim: Simulator) -> Simulator:
    """The demo portal (12 employees, ~200 companies, four months of history)."""
    sim.seed("demo")
    return sim


def seeded_clock(portal: Simulator) -> TestClock:
    """The test clock of a seeded demo portal: anchored to the instant it was seeded."""
    seeded_at = portal.settings.get("demo_seeded_at")
    assert seeded_at, "the portal was not seeded with the demo"
    return TestClock(anchor=datetime.fromisoformat(seeded_at))


def first_free_weekday(portal: Simulator, clock: TestClock, user_id: int, *,
                       weekday: int = 0, after: int = 1) -> int:
    """Days from the demo's today to the first ``weekday`` (0 = Monday) at least ``after`` days
    on and after every absence the portal's absence chart holds for ``user_id``: a day on which
    a test may start a new absence of that person without overlapping the demo's."""
    chart = calendar_tables.absences
    with portal.engine.connect() as conn:
        ends = conn.execute(select(chart.c.date_to).where(chart.c.user_id == user_id)).scalars()
        last = max((clock.local(end).date() for end in ends), default=clock.today)
    return clock.next_weekday(weekday, after=max(after, (last - clock.today).days + 1))


@pytest.fixture
def test_clock(demo_sim: Simulator) -> TestClock:
    """Days and instants relative to the day the demo portal was seeded (tests/clock.py)."""
    return seeded_clock(demo_sim)

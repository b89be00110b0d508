"""Shared fixtures. Tests that need PostgreSQL, Redis or Chromium skip with a reason on a
laptop that lacks them and fail in CI (CI=true), where they must be present."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, delete, make_url, select, text
from sqlalchemy.exc import OperationalError

from simulator import Simulator
from simulator import db as sim_db
from simulator.calendar import tables as calendar_tables
from simulator.core import config_cache
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


# What a test asks for when it reads or writes a database: the portal's or the extension's.
DATABASE_FIXTURES = frozenset({"sim", "ext_database_url", "migrated_template"})


def uses_a_database(item: pytest.Item) -> bool:
    """Whether ``item`` touches a database: through a fixture, or a module that reads the
    test database's address itself (the worker and migration tests)."""
    if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    module = getattr(item, "module", None)
    return any(hasattr(module, name) for name in ("TEST_DATABASE_URL", "simulator_database_url"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that asks for the test clock reads a date: it is ``dated``. On PostgreSQL (the
    second tier) only the tests that touch a database run: the others (pure rules, layering,
    catalogues) have nothing to prove there that the SQLite tier did not."""
    for item in items:
        if "test_clock" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dated)
    if os.environ.get("PORTAL_EXT_TEST_DATABASE_URL"):
        kept = [item for item in items if uses_a_database(item)]
        if len(kept) < len(items):
            config.hook.pytest_deselected(items=[i for i in items if i not in kept])
            items[:] = kept


def worker_database(url: str) -> str:
    """The PostgreSQL tier's database for this test process: with two processes (pytest-xdist),
    each has its own, ``<database>_<worker>`` (created when missing), so neither empties the
    other's tables. Commits there do not wait for the disk (``synchronous_commit = off``): a
    test never outlives a crash of the server, and the tests that kill a worker kill ours, not
    PostgreSQL. An unreachable server is left for the tests to report."""
    if not url:
        return url
    base = make_url(url)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    own = base.set(database=f"{base.database}_{worker}") if worker else base
    try:
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                           {"name": own.database}) is None:
                conn.execute(text(f'CREATE DATABASE "{own.database}"'))
            conn.execute(text(f'ALTER DATABASE "{own.database}" SET synchronous_commit = off'))
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


@pytest.fixture(scope="session")
def demo_portal_template(tmp_path_factory: pytest.TempPathFactory) -> Path | str:
    """A seeded demo portal to copy from: an SQLite file, or on PostgreSQL the name of a schema
    holding a copy of every simulator table (see :func:`snapshot_demo`)."""
    if TEST_DATABASE_URL:
        template = Simulator(TEST_DATABASE_URL, webhook_token="testtoken")
        template.reset()
        template.clock.unfreeze()
        template.seed("demo")
        snapshot_demo(template)
        template.engine.dispose()
        return DEMO_SCHEMA
    path = tmp_path_factory.mktemp("demo-portal") / "sim.db"
    template = Simulator(f"sqlite:///{path}", webhook_token="testtoken")
    template.reset()
    template.clock.unfreeze()
    template.seed("demo")
    template.engine.dispose()  # checkpoints the WAL into the file
    return path


DEMO_SCHEMA = "demo_portal_template"


def _id_sequences(conn: Connection) -> dict[str, str]:
    """Each simulator table's id sequence on PostgreSQL, by table name."""
    found = {}
    for table in sim_db.metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                   {"t": table.name, "c": column.name})
            if sequence:
                found[table.name] = sequence
    return found


def snapshot_demo(template: Simulator) -> None:
    """Copy every simulator table of the seeded ``template`` into :data:`DEMO_SCHEMA`, with
    where each id sequence stood, so that :func:`restore_demo` takes milliseconds where seeding
    takes seconds."""
    with template.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{DEMO_SCHEMA}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{DEMO_SCHEMA}"'))
        for table in sim_db.metadata.sorted_tables:
            conn.execute(text(f'CREATE TABLE "{DEMO_SCHEMA}"."{table.name}" AS '
                              f'SELECT * FROM public."{table.name}"'))
        conn.execute(text(f'CREATE TABLE "{DEMO_SCHEMA}"._sequences '
                          "(name text, last_value bigint, is_called boolean)"))
        for sequence in _id_sequences(conn).values():
            conn.execute(text(f'INSERT INTO "{DEMO_SCHEMA}"._sequences '
                              f"SELECT :name, last_value, is_called FROM {sequence}"),
                         {"name": sequence})


def restore_demo(portal: Simulator) -> None:
    """Make ``portal``'s PostgreSQL tables the snapshot's again, ids to come included."""
    with portal.engine.begin() as conn:
        for table in reversed(sim_db.metadata.sorted_tables):
            conn.execute(delete(table))  # few rows: the portal was just reset
        for table in sim_db.metadata.sorted_tables:
            conn.execute(text(f'INSERT INTO public."{table.name}" '
                              f'SELECT * FROM "{DEMO_SCHEMA}"."{table.name}"'))
        conn.execute(text(f'SELECT setval(name, last_value, is_called) '
                          f'FROM "{DEMO_SCHEMA}"._sequences'))
        config_cache.changed(conn)


@pytest.fixture
def demo_sim(sim: Simulator, demo_portal_template: Path | str) -> Simulator:
    """The demo portal (12 employees, ~200 companies, four months of history)."""
    if isinstance(demo_portal_template, str):
        restore_demo(sim)
    else:
        database = Path(str(sim.engine.url.database))
        sim.engine.dispose()
        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(demo_portal_template, database)
    sim.clock.invalidate()
    sim.apply_webhook_token()
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

"""Shared fixtures. Tests that need PostgreSQL, Redis or Chromium skip with a reason on a
laptop that lacks them and fail in CI (CI=true), where they must be present."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from simulator import Simulator, db

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI, when a real server or tool the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


TEST_DATABASE_URL = os.environ.get("PORTAL_EXT_TEST_DATABASE_URL", "")


def simulator_database_url(tmp_path: Path) -> str:
    """A private SQLite file, or the PostgreSQL test database in the PostgreSQL tier."""
    return TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'sim.db'}"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    """An empty simulated portal (SQLite file, or PostgreSQL in the PostgreSQL tier)."""
    portal = Simulator(simulator_database_url(tmp_path), webhook_token="testtoken")
    portal.reset()
    with portal.engine.begin() as conn:  # reset keeps installed applications; a test starts bare
        conn.execute(delete(db.apps))
    portal.clock.unfreeze()
    yield portal
    portal.bus.clear_subscribers()
    portal.engine.dispose()


@pytest.fixture
def demo_sim(sim: Simulator) -> Simulator:
    """The demo portal (12 employees, ~200 companies, four months of history)."""
    sim.seed("demo")
    return sim

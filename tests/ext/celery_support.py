"""What the killed-worker tests share: real Celery workers in their own process groups, a
Redis broker database per test, and the PostgreSQL test database migrated from scratch.

They run in the PostgreSQL tier (PORTAL_EXT_TEST_DATABASE_URL set); there they require
PostgreSQL and Redis on 127.0.0.1 (skipped on a laptop without them, a failure in CI).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from tests.conftest import TEST_DATABASE_URL, require
from tests.ext.conftest import drop_extension_tables, migrate_database

ROOT = Path(__file__).resolve().parents[2]


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def broker_url(number: int) -> str:
    """Redis database ``number`` of the test Redis: each worker test has its own, so two of
    them may run at the same time."""
    base = urlsplit(os.environ.get("PORTAL_EXT_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunsplit((base.scheme, base.netloc, f"/{number}", "", ""))


def fresh_services(broker: str) -> None:
    """Skip outside the PostgreSQL tier; require the servers; empty the broker database and
    migrate the extension's tables from scratch."""
    if not TEST_DATABASE_URL:
        pytest.skip("runs in the PostgreSQL tier (PORTAL_EXT_TEST_DATABASE_URL)")
    require(reachable("127.0.0.1", 5432), "PostgreSQL on 127.0.0.1:5432")
    require(reachable("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    redis.Redis.from_url(broker).flushdb()
    drop_extension_tables(TEST_DATABASE_URL)
    migrate_database(TEST_DATABASE_URL)


def worker_env(*, database_url: str, broker: str, **settings: str) -> dict[str, str]:
    """A worker's environment: this one without any PORTAL_ setting, then the simulated portal
    on ``database_url``, Celery on ``broker`` and ``settings`` (as PORTAL_EXT_<name>)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({
        "PORTAL_EXT_PORTAL_MODE": "simulated", "PORTAL_EXT_TASK_RUNNER": "celery",
        "PORTAL_EXT_DATABASE_URL": database_url, "PORTAL_SIM_DATABASE_URL": database_url,
        "PORTAL_EXT_CELERY_BROKER_URL": broker, "PYTHONPATH": str(ROOT),
        **{f"PORTAL_EXT_{name}": value for name, value in settings.items()}})
    return env


class Worker:
    """``celery -A wsgi.celery worker`` with a pool of 2, logging to ``log``."""

    def __init__(self, env: dict[str, str], name: str, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "wsgi.celery", "worker", "--concurrency", "2",
             "--loglevel", "INFO", "--without-mingle", "--without-gossip", "-n", f"{name}@%h"],
            cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: SIGKILL reaches the pool too

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text():
                return
            assert self.process.poll() is None, self.log.read_text()
            time.sleep(0.2)
        pytest.fail("the worker did not start:\n" + self.log.read_text())

    def kill(self) -> None:
        """Power loss: the main process and its pool children die at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

"""``python -m simulator``: seeding with every generator parameter, and a served portal that
runs its own tick and, when asked, portal life."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from simulator import Simulator, background
from simulator.__main__ import main
from simulator.crm import tables as crm_tables
from simulator.im import tables as im_tables
from simulator.tasks import tables as tasks_tables
from simulator.users import tables as users_tables
from tests.simulator.staff import HEAD, SELLER, add_staff

REPOSITORY = Path(__file__).resolve().parents[2]


def count(sim: Simulator, table: Any, *where: Any) -> int:
    with sim.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where))
                   .scalar_one())


def test_seed_takes_every_generator_parameter(sim: Simulator,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["seed", "--database", sim.database_url, "--companies", "3",
                 "--contacts-per-company", "1", "--activities", "7", "--leads", "2",
                 "--deals", "4", "--tasks", "5", "--users", "6", "--seed", "11"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert {k: summary[k] for k in ("users", "companies", "contacts", "leads", "deals",
                                    "activities", "tasks", "seed")} == {
        "users": 6, "companies": 3, "contacts": 3, "leads": 2, "deals": 4, "activities": 7,
        "tasks": 5, "seed": 11}
    items = crm_tables.crm_items.c.entity_type_id
    assert [count(sim, crm_tables.crm_items, items == t) for t in (4, 3, 1, 2)] == [3, 3, 2, 4]
    assert (count(sim, users_tables.users), count(sim, tasks_tables.tasks),
            count(sim, crm_tables.activities)) == (6, 5, 7)


def test_seed_wants_either_the_demo_or_generator_parameters(sim: Simulator) -> None:
    assert main(["seed", "--database", sim.database_url]) == 2
    assert main(["seed", "--database", sim.database_url, "--demo", "--leads", "3"]) == 2
    with pytest.raises(SystemExit):
        main(["seed", "--database", sim.database_url, "--users", "-1"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(database_url: str, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m simulator serve`` in a child process for as long as the block runs."""
    env = {**os.environ, "PORTAL_SIM_WEBHOOK_TOKEN": "testtoken"}
    # stderr goes to a file: a pipe nobody reads could fill up and stall the server
    log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--database", database_url,
         "--port", str(_free_port()), *options],
        cwd=REPOSITORY, env=env, stdout=subprocess.DEVNULL, stderr=log)
    process.stderr = log  # read back by wait_for when the server stops
    try:
        yield process
    finally:
        log.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for(check: Callable[[], bool], process: subprocess.Popen[bytes],
             seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if process.poll() is not None:
            stderr = ""
            if process.stderr is not None:
                process.stderr.seek(0)
                stderr = process.stderr.read().decode("utf-8", "replace")
            pytest.fail(f"the server stopped: {stderr[-2000:]}")
        time.sleep(0.2)
    pytest.fail("nothing happened in time")


def test_a_served_portal_tells_people_about_overdue_tasks(sim: Simulator) -> None:
    add_staff(sim)
    now = datetime(2026, 3, 2, 7, 0)
    sim.clock.set(now)
    sim.call("tasks.task.add", {"fields": {
        "TITLE": "Send the offer", "RESPONSIBLE_ID": SELLER,
        "DEADLINE": (now - timedelta(hours=1)).isoformat() + "Z"}}, user_id=HEAD)
    overdue = im_tables.notifications.c.kind == "task_overdue"
    assert count(sim, im_tables.notifications, overdue) == 0
    with served(sim.database_url, "--tick-seconds", "0.5") as process:
        wait_for(lambda: count(sim, im_tables.notifications, overdue,
                               im_tables.notifications.c.user_id == SELLER) == 1, process)


def test_a_served_portal_can_play_portal_life(demo_sim: Simulator) -> None:
    def things() -> int:
        return sum(count(demo_sim, table) for table in (
            crm_tables.crm_items, crm_tables.activities, tasks_tables.tasks,
            tasks_tables.task_comments))

    seeded = things()
    with served(demo_sim.database_url, "--tick-seconds", "0", "--life", "0.2") as process:
        wait_for(lambda: things() >= seeded + 3, process)


def test_background_work_is_off_when_asked(sim: Simulator) -> None:
    stop = background.start(sim, tick_seconds=0, life_seconds=None)
    try:
        names = {thread.name for thread in threading.enumerate()}
        assert not names & {"portal-tick", "portal-life"}
    finally:
        stop.set()

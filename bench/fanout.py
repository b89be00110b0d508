"""Notification fan-out throughput, end to end, against a naive baseline. Prints JSON.

    python bench/fanout.py                     # 300 notifications per run, full matrix (~1 h)
    python bench/fanout.py --quick             # 100 notifications, in-process only
    python bench/fanout.py --modes celery --database postgresql+psycopg://postgres@127.0.0.1:5432/portal_ext_bench

What one run measures: a burst of portal notifications (bench/fanout_workload.py) published by
the simulated portal, each going the whole way: the in-process event into the extension's
inbox, processing, recipients decided, copies recorded in the outbox, drained in batches of 50
through ``im.notify.system.add`` into the portal's inboxes (and the copies' own events coming
back and being recognised). The clock stops when every event is processed and no delivery is
pending; the copies in the portal's inboxes are then counted and must equal the deliveries.

Sizes: 1, 10 and 100 concurrent absences; teams of 5 and 50. Modes:
- ``inprocess``: the embedded worker thread (TASK_RUNNER=thread), SQLite files by default;
- ``celery``: a real Celery worker (2 processes) on Redis, PostgreSQL by default (skipped with
  a note when Redis or PostgreSQL is unreachable).
Each run is repeated with the baseline (bench/naive_fanout.py: recipients decided by querying
absences, deputies and teams per notification, no snapshot). ``decision`` compares the two
decisions alone, without delivery. No timing is asserted anywhere; this reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench import fanout_workload as wl  # noqa: E402
from portal_ext.app import MIGRATIONS_DIR  # noqa: E402
from portal_ext.extensions import db  # noqa: E402
from portal_ext.portal.registration import close_clients  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_ext_bench"
QUIET = {"TICK_SECONDS": 3600.0, "ABSENCE_CHART_POLL_SECONDS": 10**9,
         "DIRECTORY_SYNC_SECONDS": 10**9, "SECRET_KEY": "bench"}


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def fresh_postgres(url: str) -> str:
    """Create the bench database if needed and empty it."""
    base, _, name = url.rpartition("/")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def build(workdir: Path, database: str | None, runner: str, name: str) -> tuple[Any, Flask]:
    from wsgi import wire_simulated

    if database:
        ext_url = sim_url = fresh_postgres(database)
    else:
        ext_url = f"sqlite:///{workdir / f'{name}-ext.db'}"
        sim_url = f"sqlite:///{workdir / f'{name}-sim.db'}"
    sim = wl.new_portal(sim_url)
    app = wire_simulated(sim, {"DATABASE_URL": ext_url, "TASK_RUNNER": runner,
                               "CELERY_BROKER_URL": REDIS_URL, **QUIET})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
    return sim, app


def dispose(sim: Any, app: Flask) -> None:
    from portal_ext.jobs import ThreadRunner, runner_for

    runner = runner_for(app)
    if isinstance(runner, ThreadRunner):
        runner.stop()
    sim.bus.clear_subscribers()
    close_clients(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    sim.engine.dispose()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "wsgi.celery", "worker", "--concurrency", "2",
         "--loglevel", "WARNING", "--without-mingle", "--without-gossip", "-n", "bench@%h"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    time.sleep(0.5)
    return process


def worker_env(app: Flask, sim: Any, naive: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({
        "PORTAL_EXT_PORTAL_MODE": "simulated", "PORTAL_EXT_TASK_RUNNER": "celery",
        "PORTAL_EXT_DATABASE_URL": app.config["DATABASE_URL"],
        "PORTAL_SIM_DATABASE_URL": sim.database_url, "PORTAL_EXT_CELERY_BROKER_URL": REDIS_URL,
        "PORTAL_EXT_TICK_SECONDS": "3600", "PORTAL_EXT_ABSENCE_CHART_POLL_SECONDS": "1e9",
        "PORTAL_EXT_DIRECTORY_SYNC_SECONDS": "1e9", "PYTHONPATH": str(ROOT),
        "PORTAL_EXT_EXTRA_MODULES": "bench.naive_fanout" if naive else ""})
    return env


def run(workdir: Path, mode: str, workload: wl.Workload, count: int, *, naive: bool,
        database: str | None) -> dict[str, Any]:
    name = f"{mode}-{workload.absences}-{workload.team_size}-{'naive' if naive else 'fast'}"
    sim, app = build(workdir, database, "thread" if mode == "inprocess" else "celery", name)
    worker = None
    try:
        wl.prepare(app, workload)
        if mode == "celery":
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
            worker = start_worker(worker_env(app, sim, naive), workdir / f"{name}.log")
        elif naive:
            from bench import naive_fanout

            naive_fanout.install()  # this process decides the naive way until restored

        started = time.perf_counter()
        wl.publish(sim, workload, count)
        state = wl.wait_until_settled(app, expected_events=count, timeout=1800)
        seconds = time.perf_counter() - started
        tags = wl.copies_by_tag(sim)
        assert sum(tags.values()) == len(tags) == state["sent"], (state, len(tags))
        return {"seconds": round(seconds, 3), "copies": state["sent"],
                "failed": state["failed"],
                "notifications_per_second": round(count / seconds, 1),
                "copies_per_second": round(state["sent"] / seconds, 1)}
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        if naive and mode == "inprocess":
            from portal_ext.notifications import services

            services.decide = _FAST_DECIDE
        dispose(sim, app)


def stage(workdir: Path, workload: wl.Workload, count: int) -> dict[str, Any]:
    """The fan-out alone, without the event inbox: notifications decided and recorded, then
    the outbox drained in batches of 50 into the portal's inboxes. ``per_event``: one
    transaction per notification, as the event handler runs; ``batched``: all in one call, as
    an inbox that hands its handlers many events at once would; ``naive``: per event with the
    baseline decision."""
    from bench.naive_fanout import naive_decide
    from portal_ext.notifications import services
    from portal_ext.notifications.sources import Notice
    from portal_ext.portal.registration import client_for, current_portal

    owners = workload.owners
    notices = [Notice(key=f"n{n}", owner_id=owners[n % len(owners)],
                      portal_kind=wl.KINDS[n % 6][0], message=f"Notification {n}",
                      at=wl.START, entity_type=wl.KINDS[n % 6][1], actor_id=1)
               for n in range(count)]
    result: dict[str, Any] = {"absences": workload.absences, "team_size": workload.team_size,
                              "notifications": count}
    for label, decide, chunk in (("per_event", _FAST_DECIDE, 1), ("batched", _FAST_DECIDE, count),
                                 ("naive", naive_decide, 1)):
        sim, app = build(workdir, None, "inline",
                         f"stage-{label}-{workload.absences}-{workload.team_size}")
        try:
            wl.prepare(app, workload)
            sim.bus.clear_subscribers()  # no events: this measures the fan-out alone
            services.decide = decide
            with app.app_context():
                portal = current_portal()
                started = time.perf_counter()
                for first in range(0, count, chunk):
                    services.fan_out(notices[first:first + chunk], portal=portal)
                    db.session.info.clear()  # the drain comes after, in one go
                    db.session.commit()
                decided = time.perf_counter() - started
                sent = services.drain_outbox(portal=portal, client=client_for(portal))
                seconds = time.perf_counter() - started
            assert sum(wl.copies_by_tag(sim).values()) == sent["sent"]
            result[label] = {
                "seconds": round(seconds, 3), "copies": sent["sent"],
                "notifications_per_second": round(count / seconds, 1),
                "decided_and_recorded_per_second": round(count / decided, 1),
                "copies_delivered_per_second": round(sent["sent"] / (seconds - decided), 1)}
        finally:
            services.decide = _FAST_DECIDE
            dispose(sim, app)
    result["ratio"] = round(result["naive"]["seconds"] / result["per_event"]["seconds"], 2)
    return result


def decision(workdir: Path, workload: wl.Workload, count: int) -> dict[str, Any]:
    """Recipients per second: snapshot + index, against per-notification queries."""
    from bench.naive_fanout import naive_decide
    from portal_ext.absences.roster import build_roster
    from portal_ext.notifications import index
    from portal_ext.notifications.sources import Notice
    from portal_ext.portal.registration import current_portal

    name = f"decision-{workload.absences}-{workload.team_size}"
    sim, app = build(workdir, None, "inline", name)
    try:
        wl.prepare(app, workload)
        owners = workload.owners
        notices = [Notice(key=str(n), owner_id=owners[n % len(owners)],
                          portal_kind=wl.KINDS[n % 6][0], message="", at=wl.START,
                          entity_type=wl.KINDS[n % 6][1], actor_id=1) for n in range(count)]
        with app.app_context():
            portal_id = current_portal().id
            results = {}
            for label, decide in (("indexed", _FAST_DECIDE), ("naive", naive_decide)):
                started = time.perf_counter()
                found = 0
                for notice in notices:
                    roster = build_roster(portal_id=portal_id, at=notice.at)
                    found += len(decide(notice, roster, index.team_index(portal_id)))
                results[label] = (time.perf_counter() - started, found)
        (fast_s, fast_n), (naive_s, naive_n) = results["indexed"], results["naive"]
        assert fast_n == naive_n, (fast_n, naive_n)
        return {"absences": workload.absences, "team_size": workload.team_size,
                "notifications": count, "recipients": fast_n,
                "indexed_per_second": round(count / fast_s, 1),
                "naive_per_second": round(count / naive_s, 1),
                "ratio": round(naive_s / fast_s, 1)}
    finally:
        dispose(sim, app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notifications", type=int, default=300)
    parser.add_argument("--absences", default="1,10,100")
    parser.add_argument("--team-sizes", default="5,50")
    parser.add_argument("--modes", default="inprocess,celery")
    parser.add_argument("--database", default=None,
                        help="one database for the extension and the portal (default: SQLite "
                             "files in-process, PostgreSQL for celery)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.notifications, args.modes = 100, "inprocess"
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - {"inprocess", "celery"}
    if unknown:
        parser.error(f"--modes: unknown {', '.join(sorted(unknown))} (inprocess, celery)")
    sizes = [wl.Workload(int(a), int(t)) for a in args.absences.split(",")
             for t in args.team_sizes.split(",")]
    report: dict[str, Any] = {
        "benchmark": "notification fan-out, end to end",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "notifications_per_run": args.notifications, "portal_users": wl.USERS,
        "owners": wl.OWNERS, "team_kinds_shared": "2 of 6 notification kinds",
        "aim_notifications_per_second": 1000, "runs": [], "stage": [], "decision": [],
        "notes": []}
    with tempfile.TemporaryDirectory(prefix="fanout-bench-") as tmp:
        workdir = Path(tmp)
        for mode in modes:
            database = args.database
            if mode == "celery":
                if not reachable("127.0.0.1", 6379):
                    report["notes"].append("celery: skipped, Redis is unreachable on "
                                           "127.0.0.1:6379")
                    continue
                if database is None:
                    if not reachable("127.0.0.1", 5432):
                        report["notes"].append("celery: skipped, PostgreSQL is unreachable")
                        continue
                    database = PG_URL
            for workload in sizes:
                row: dict[str, Any] = {"mode": mode, "absences": workload.absences,
                                       "team_size": workload.team_size,
                                       "database": (database or "sqlite").split("@")[-1]}
                row.update(run(workdir, mode, workload, args.notifications, naive=False,
                               database=database))
                if not args.no_baseline:
                    base = run(workdir, mode, workload, args.notifications, naive=True,
                               database=database)
                    row["baseline"] = base
                    row["ratio"] = round(base["seconds"] / row["seconds"], 2)
                report["runs"].append(row)
                print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
        for workload in sizes:
            report["stage"].append(stage(workdir, workload, args.notifications))
            print(json.dumps(report["stage"][-1]), file=sys.stderr)
            report["decision"].append(decision(workdir, workload, 2000))
    print(json.dumps(report, ensure_ascii=False, indent=2))


from portal_ext.notifications.services import decide as _FAST_DECIDE  # noqa: E402

if __name__ == "__main__":
    main()

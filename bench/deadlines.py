"""The deadline guard's speed: the on-site veto's decision, and reverts over REST. Prints JSON.

    python bench/deadlines.py                  # sizes 100 and 1,000, REST at 2 requests/s
    python bench/deadlines.py --quick          # sizes 10 and 100
    python bench/deadlines.py --rate 5 --pool 250   # an Enterprise plan's leaky bucket

``veto`` (in-process, the demo portal, SQLite files): for each size, that many tasks of the
guarded sales department, each updated by its responsible once moving the deadline earlier
(the guard decides "free") and once postponing it (the guard vetoes it and audits the
attempt). ``decision`` is the time of the before-update handler alone; ``update_with_guard``
and ``update_without_guard`` time the portal's whole ``tasks.task.update`` of an earlier
deadline with and without the guard's handler registered (the baseline, same run). ``added``
is the p99 difference.

``rest`` (cloud): the simulated portal and the extension each behind their own HTTP server,
events as outbound webhooks, the embedded worker (TASK_RUNNER=thread), the portal's leaky
bucket on (``--pool`` requests at once, then ``--rate`` per second) and the extension's
client holding the same limit. For each size, that many guarded tasks (flag N already set by
the guard, the responsibles' role may edit their tasks) are postponed at once, one
``tasks.task.update`` each as their responsibles (in-process: they are not the extension's
requests). Event-to-revert is from a task's update to the moment the portal holds the old
deadline again (polled every 20 ms). ``floor_seconds`` is the rate limit's floor for what the
guard must send: every task read and written back, 50 per ``batch``, and its comment and the
two notices (responsible, head), against the bucket: ``max(0, requests - pool) / rate``.
``ratio`` = the last revert's time / the floor. Only the guard's handlers act on the task
events here: the notifications domain's own per-event task read (``task_changed``) is
unregistered for the run, since it spends the same budget on something else.

No timing is asserted; this reports.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from portal_ext.app import MIGRATIONS_DIR  # noqa: E402
from portal_ext.extensions import db  # noqa: E402
from portal_ext.portal.registration import close_clients  # noqa: E402

QUIET = {"TICK_SECONDS": 3600.0, "ABSENCE_CHART_POLL_SECONDS": 10**9,
         "DIRECTORY_SYNC_SECONDS": 10**9, "SECRET_KEY": "bench", "PORTAL_LANGUAGE": "en",
         "DEADLINE_RESYNC_MINUTES": 10**6}
HEAD, RESPONSIBLES = 4, (5, 6, 7)  # Торг-Комс: its head and three sales managers
ADMIN = 1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(values, 50) * 1000, 3), "p99_ms": round(pct(values, 99) * 1000, 3),
            "mean_ms": round(statistics.fmean(values) * 1000, 3) if values else 0.0}


def iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat()


def new_portal(url: str) -> Any:
    from simulator import Simulator

    sim = Simulator(url)
    sim.seed("demo")
    return sim


def add_tasks(sim: Any, count: int, *, allow: str) -> tuple[list[int], datetime]:
    due = sim.clock.now().replace(second=0, microsecond=0) + timedelta(days=5)
    ids = []
    for n in range(count):
        answer = sim.call("tasks.task.add", {"fields": {
            "TITLE": f"Bench task {n}", "RESPONSIBLE_ID": RESPONSIBLES[n % len(RESPONSIBLES)],
            "DEADLINE": iso(due), "ALLOW_CHANGE_DEADLINE": allow}}, user_id=HEAD)
        ids.append(int(answer["result"]["task"]["id"]))
    return ids, due


def set_default_policy(app: Flask, mode: str) -> None:
    from portal_ext.context import for_portal
    from portal_ext.deadlines.services import set_policy
    from portal_ext.directory.models import PortalUser
    from portal_ext.portal.registration import current_portal

    with app.app_context():
        portal = current_portal()
        admin = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_id == portal.id, PortalUser.portal_user_id == ADMIN)).one()
        set_policy(for_portal(portal, actor=admin), "default", {"mode": mode})


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


# -- in-process: the veto ---------------------------------------------------------------------
@contextmanager
def guard_switch(state: dict[str, Any]) -> Iterator[None]:
    """The guard's before-update handler, timed into ``state["sink"]`` while ``state["on"]``,
    and skipped (the portal's own update alone) while not."""
    from portal_ext.deadlines import handlers
    from portal_ext.events import handlers as registry

    chain = registry._BEFORE["ONBEFORETASKUPDATE"]
    original = handlers.deadline_veto
    position = chain.index(original)

    def switched(*args: Any, **kwargs: Any) -> None:
        if not state["on"]:
            return
        started = time.perf_counter()
        try:
            original(*args, **kwargs)
        finally:
            state["sink"].append(time.perf_counter() - started)

    chain[position] = switched
    try:
        yield
    finally:
        chain[position] = original


def veto(workdir: Path, size: int) -> dict[str, Any]:
    from portal_ext.jobs import runner_for
    from simulator import SimError
    from wsgi import wire_simulated

    sim = new_portal(f"sqlite:///{workdir / f'veto-{size}-sim.db'}")
    app = wire_simulated(sim, {"DATABASE_URL": f"sqlite:///{workdir / f'veto-{size}-ext.db'}",
                               "TASK_RUNNER": "thread", **QUIET})
    try:
        with app.app_context():
            upgrade(directory=str(MIGRATIONS_DIR))
            from portal_ext.directory.services import sync_directory
            from portal_ext.portal.clock import host_utcnow
            from portal_ext.portal.registration import client_for, current_portal

            portal = current_portal()
            sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())
        runner_for(app).start()
        set_default_policy(app, "reason_required")
        ids, due = add_tasks(sim, size, allow="Y")
        responsible = {task: RESPONSIBLES[n % len(RESPONSIBLES)] for n, task in enumerate(ids)}

        def update(task: int, to: datetime) -> float:
            started = time.perf_counter()
            with suppress(SimError):
                sim.call("tasks.task.update", {"taskId": task, "fields": {"DEADLINE": iso(to)}},
                         user_id=responsible[task])
            return time.perf_counter() - started

        baseline: list[float] = []
        guarded: list[float] = []
        vetoed: list[float] = []
        free_decisions: list[float] = []
        veto_decisions: list[float] = []
        state: dict[str, Any] = {"on": False, "sink": []}
        with guard_switch(state):
            for number, task in enumerate(ids):  # interleaved: the same portal state for both
                state["on"] = False
                baseline.append(update(task, due - timedelta(minutes=2 * number + 1)))
                state.update(on=True, sink=free_decisions)
                guarded.append(update(task, due - timedelta(minutes=2 * number + 2)))
                state["sink"] = veto_decisions
                vetoed.append(update(task, due + timedelta(days=1)))
        _wait(lambda: _vetoes(app) >= size, 900, "the vetoed attempts audited")
        return {"tasks": size, "vetoed": _vetoes(app),
                "decision": {"free": ms(free_decisions), "vetoed": ms(veto_decisions)},
                "update_without_guard": ms(baseline), "update_with_guard": ms(guarded),
                "postpone_vetoed_update": ms(vetoed),
                "added_p99_ms": round((pct(guarded, 99) - pct(baseline, 99)) * 1000, 3),
                "ratio_p99": round(pct(guarded, 99) / pct(baseline, 99), 3)
                if pct(baseline, 99) else None}
    finally:
        dispose(sim, app)


def _vetoes(app: Flask) -> int:
    from portal_ext.deadlines.models import VETOED, DeadlineChange

    with app.app_context():
        found = db.session.query(DeadlineChange).filter_by(outcome=VETOED).count()
        db.session.remove()
    return int(found)


# -- over REST: detect and revert -------------------------------------------------------------
def _serve(app: Any) -> tuple[Any, threading.Thread]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def floor_seconds(tasks: int, *, pool: int, rate: float) -> tuple[int, float]:
    batches = math.ceil(tasks / 50)
    requests_ = batches * 2 + math.ceil(tasks * 3 / 50)  # read, revert; comment + 2 notices
    return requests_, max(0.0, requests_ - pool) / rate


def rest(workdir: Path, size: int, *, pool: int, rate: float) -> dict[str, Any]:
    from portal_ext import create_app
    from portal_ext.directory.services import sync_directory
    from portal_ext.events import handlers as registry
    from portal_ext.events.bindings import ensure_bindings
    from portal_ext.jobs import runner_for
    from portal_ext.notifications import handlers as notification_handlers
    from portal_ext.portal.clock import host_utcnow
    from portal_ext.portal.registration import client_for, current_portal
    from simulator.core.ratelimit import limits_for
    from simulator.tasks import tables as task_tables
    from simulator.web import create_app as create_simulator_app

    sim = new_portal(f"sqlite:///{workdir / f'rest-{size}-sim.db'}")
    portal_server, _ = _serve(create_simulator_app(sim))
    portal_url = f"http://127.0.0.1:{portal_server.server_port}"
    app = create_app({
        "DATABASE_URL": f"sqlite:///{workdir / f'rest-{size}-ext.db'}", "PORTAL_MODE": "rest",
        "PORTAL_URL": portal_url, "PORTAL_WEBHOOK_URL": f"{portal_url}/rest/1/{sim.webhook_token}/",
        "PORTAL_APPLICATION_TOKEN": sim.application_token, "PORTAL_MEMBER_ID": sim.member_id,
        "TASK_RUNNER": "thread", "PORTAL_RATE_POOL": pool, "PORTAL_RATE_PER_SECOND": rate,
        **QUIET})
    ext_server, _ = _serve(app)
    handler_url = f"http://127.0.0.1:{ext_server.server_port}/events/webhook"
    others = [(name, fn) for name in ("ONTASKADD", "ONTASKUPDATE")
              for fn in registry._AFTER.get(name, []) if fn is notification_handlers.task_changed]
    for name, fn in others:
        registry._AFTER[name].remove(fn)
    try:
        with app.app_context():
            upgrade(directory=str(MIGRATIONS_DIR))
            portal = current_portal()
            client = client_for(portal)
            sync_directory(portal=portal, client=client, now=host_utcnow())
            ensure_bindings(client, handler_url, ("ONTASKADD", "ONTASKUPDATE"))
        runner_for(app).start()
        set_default_policy(app, "reason_required")
        ids, due = add_tasks(sim, size, allow="Y")
        sim.settings.set("task_roles", {"employee": {"responsible_may_edit": True}})
        t = task_tables.tasks

        def snapshot() -> dict[int, tuple[datetime | None, bool]]:
            with sim.engine.connect() as conn:
                return {row.id: (row.deadline, bool(row.allow_change_deadline))
                        for row in conn.execute(select(t.c.id, t.c.deadline,
                                                       t.c.allow_change_deadline)
                                                .where(t.c.id.in_(ids)))}

        _wait(lambda: all(not flag for _, flag in snapshot().values()) and _idle(app, sim),
              600, "the guard holding the flags at N")
        # The portal's limit from here on, both buckets empty: the portal's is reset, the
        # extension's client (which held the same limit all along) drains while it waits.
        time.sleep(pool / rate)
        limits = limits_for(sim)
        limits.configure(enabled=True, x=pool, y=rate)
        limits.reset()
        sent: list[str] = []
        refused: list[str] = []
        admit = limits.admit

        def counted(method: str) -> None:
            sent.append(method)
            try:
                admit(method)
            except Exception:
                refused.append(method)
                raise

        limits.admit = counted  # type: ignore[method-assign]
        changed_at: dict[int, float] = {}
        later = due + timedelta(days=3)
        started = time.perf_counter()
        for n, task in enumerate(ids):
            sim.call("tasks.task.update", {"taskId": task, "fields": {"DEADLINE": iso(later)}},
                     user_id=RESPONSIBLES[n % len(RESPONSIBLES)])
            changed_at[task] = time.perf_counter()
        burst = time.perf_counter() - started
        reverted_at: dict[int, float] = {}
        deadline = time.perf_counter() + 1800
        while len(reverted_at) < len(ids) and time.perf_counter() < deadline:
            now = time.perf_counter()
            for task, (value, _) in snapshot().items():
                if task not in reverted_at and value == due:
                    reverted_at[task] = now
            time.sleep(0.02)
        latencies = [reverted_at[task] - changed_at[task] for task in reverted_at]
        total = max(reverted_at.values()) - started if reverted_at else None
        requests_, floor = floor_seconds(size, pool=pool, rate=rate)
        return {"tasks": size, "reverted": len(reverted_at), "burst_seconds": round(burst, 3),
                "event_to_revert": ms(latencies),
                "last_revert_seconds": round(total, 3) if total is not None else None,
                "requests_sent": len(sent), "refused_by_limit": len(refused),
                "floor_requests": requests_, "floor_seconds": round(floor, 3),
                "ratio": round(total / floor, 3) if total and floor else None}
    finally:
        for name, fn in others:
            registry._AFTER[name].append(fn)
        for server in (ext_server, portal_server):
            server.shutdown()
            server.server_close()
        dispose(sim, app)


def _idle(app: Flask, sim: Any) -> bool:
    from portal_ext.deadlines.models import DeadlineTrack
    from portal_ext.events.models import InboxEvent

    if not sim.bus.flush(0.01):
        return False
    with app.app_context():
        busy = db.session.query(InboxEvent).filter(InboxEvent.state.in_(
            ("pending", "processing"))).count()
        waiting = db.session.query(DeadlineTrack).filter(
            DeadlineTrack.pending_since.is_not(None)).count()
        db.session.remove()
    return busy == 0 and waiting == 0


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="sizes 10 and 100")
    parser.add_argument("--rate", type=float, default=2.0, help="requests per second")
    parser.add_argument("--pool", type=int, default=50, help="requests at once")
    parser.add_argument("--skip-rest", action="store_true")
    parser.add_argument("--skip-veto", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*", help="instead of the default sizes")
    args = parser.parse_args()
    sizes = tuple(args.sizes) if args.sizes else (10, 100) if args.quick else (100, 1000)
    result: dict[str, Any] = {"python": platform.python_version(),
                              "machine": platform.machine(), "sizes": list(sizes),
                              "rate_limit": {"pool": args.pool, "per_second": args.rate},
                              "veto": [], "rest": []}
    with tempfile.TemporaryDirectory(prefix="bench-deadlines-") as tmp:
        workdir = Path(tmp)
        for size in () if args.skip_veto else sizes:
            result["veto"].append(veto(workdir, size))
        if not args.skip_rest:
            for size in sizes:
                result["rest"].append(rest(workdir, size, pool=args.pool, rate=args.rate))
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

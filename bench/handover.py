"""Handing a client base over and back: how fast, against baselines in the same run. Prints JSON.

    python bench/handover.py                       # default sizes (a few minutes)
    python bench/handover.py --quick               # 1,000 items, no rate-limited run
    python bench/handover.py --full                # adds 100,000 items through the simulator

Each run hands ``size`` items of one salesperson (bench/handover_workload.py: every kind,
a third of them closed) to a deputy and back with the move engine (plan, apply, restore), and
checks that every item ended where it started. Paths:

- ``floor``: the same rows reassigned by single UPDATE statements in the simulator's database
  (over and back): the physical floor, no portal logic at all;
- ``engine_only``: the engine against an in-memory portal stub (bench/handover_stub.py): the
  extension's own cost (commands, planning, journal) plus the stub's, which reads every
  command with the simulator's query parser; ``stub_s`` is the stub's part;
- ``inprocess``: the engine calling the simulated portal in-process through ``batch`` (the
  portal's own work per item included), without and with the extension receiving the portal's
  events (``inprocess_with_events``: the composition root's wiring);
- ``http_batch``: the simulator served over HTTP, the extension calling it with batches of 50
  through its HTTP transport (fast_bitrix24);
- ``naive``: one ``*.update`` HTTP request per item, as the portal's own list action does;
- ``rate_limited``: the simulator's leaky bucket on (2 requests/s, pool 50), the bucket filled
  first so the run is at the steady rate: items/s against the theoretical 100 (50 per batch at
  2 requests/s), and the naive path under the same limit.

``simulator_call_ms`` breaks one item's cost down: a ``crm.deal.update`` called directly, and
the same through ``batch``. No timing is asserted; this reports.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import update  # noqa: E402

from bench import handover_workload as wl  # noqa: E402
from bench.handover_stub import StubPortal  # noqa: E402
from portal_ext import create_app  # noqa: E402
from portal_ext.extensions import db  # noqa: E402
from portal_ext.moves import engine  # noqa: E402
from portal_ext.moves.models import APPLYING, RESTORING, MoveBatch  # noqa: E402
from portal_ext.portal.clock import host_utcnow  # noqa: E402
from portal_ext.portal.registration import (  # noqa: E402
    client_for,
    close_clients,
    current_portal,
)
from simulator import Simulator  # noqa: E402
from simulator.crm import tables as crm_tables  # noqa: E402
from simulator.tasks import tables as tasks_tables  # noqa: E402

TOKEN = "benchtoken"
QUIET = {"TASK_RUNNER": "inline", "SECRET_KEY": "bench", "TICK_SECONDS": 3600.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def extension(tmp: Path, **config: Any) -> Flask:
    path = tmp / f"ext-{time.monotonic_ns()}.db"
    app = create_app({**QUIET, "DATABASE_URL": f"sqlite:///{path}", **config})
    with app.app_context():
        db.create_all()
    return app


def run_engine(app: Flask, size: int, chunk: int = 2500) -> dict[str, Any]:
    """Plan, apply and restore one handover of OWNER's items; seconds per phase."""
    with app.app_context():
        portal = current_portal()
        client = client_for(portal)
        batch = MoveBatch(portal_id=portal.id, kind="handover", state="preview",
                          owner_id=wl.OWNER, to_user_id=wl.DEPUTY, created_at=host_utcnow(),
                          options={"types": list(engine.ENTITY_TYPES), "include_closed": True},
                          counts={})
        db.session.add(batch)
        db.session.flush()
        started = time.perf_counter()
        counts = engine.plan_batch(batch, client=client, to_user_for=lambda _t, _r: wl.DEPUTY)
        db.session.commit()
        timings = {"plan_s": time.perf_counter() - started}
        assert sum(counts.values()) == size, counts
        for phase, state, step in (("apply_s", APPLYING, engine.apply_chunk),
                                   ("restore_s", RESTORING, engine.restore_chunk)):
            engine.start_phase(batch, state)
            db.session.commit()
            started = time.perf_counter()
            while step(batch.id, client=client, now=host_utcnow(), size=chunk):
                pass
            timings[phase] = time.perf_counter() - started
        status = engine.progress(batch)
        assert status["state"] == "restored" and status["done"] == size, status
        close_clients(app)
        db.session.remove()
        db.engine.dispose()
    total = timings["plan_s"] + timings["apply_s"] + timings["restore_s"]
    return {"items": size, **{k: round(v, 3) for k, v in timings.items()},
            "over_and_back_s": round(total, 3), "items_per_s": round(2 * size / total, 1)}


def portal_with_base(tmp: Path, size: int) -> Simulator:
    sim = Simulator(f"sqlite:///{tmp / f'sim-{size}-{time.monotonic_ns()}.db'}",
                    webhook_token=TOKEN)
    wl.empty_portal(sim)
    wl.add_client_base(sim, size)
    return sim


def dispatch_for(sim: Simulator) -> Any:
    from wsgi import simulator_dispatch

    return simulator_dispatch(sim)


def bench_floor(tmp: Path, size: int) -> dict[str, Any]:
    sim = portal_with_base(tmp, size)
    tables = ((crm_tables.crm_items, "assigned_by_id"),
              (crm_tables.activities, "responsible_id"), (tasks_tables.tasks, "responsible_id"))
    started = time.perf_counter()
    for giver, taker in ((wl.OWNER, wl.DEPUTY), (wl.DEPUTY, wl.OWNER)):
        with sim.engine.begin() as conn:
            for table, column in tables:
                conn.execute(update(table).where(table.c[column] == giver)
                             .values({column: taker}))
    seconds = time.perf_counter() - started
    sim.engine.dispose()
    return {"items": size, "over_and_back_s": round(seconds, 3),
            "items_per_s": round(2 * size / seconds, 1)}


def bench_engine_only(tmp: Path, size: int) -> dict[str, Any]:
    holdings: dict[str, dict[int, int]] = {kind: {} for kind in wl.MIX}
    next_id = 1
    for kind, count in wl.split(size).items():
        for _ in range(count):
            holdings[kind][next_id] = wl.OWNER
            next_id += 1
    stub = StubPortal(holdings)
    result = run_engine(extension(tmp, PORTAL_DISPATCH=stub), size)
    return {**result, "stub_s": round(stub.seconds, 3)}


def bench_inprocess(tmp: Path, size: int, *, events: bool = False) -> dict[str, Any]:
    sim = portal_with_base(tmp, size)
    before = wl.holders_of(sim)
    if events:
        from wsgi import wire_simulated

        path = tmp / f"ext-events-{size}.db"
        app = wire_simulated(sim, {**QUIET, "DATABASE_URL": f"sqlite:///{path}"})
        with app.app_context():
            db.create_all()
    else:
        app = extension(tmp, PORTAL_DISPATCH=dispatch_for(sim))
    result = run_engine(app, size)
    assert wl.holders_of(sim) == before
    sim.bus.clear_subscribers()
    sim.engine.dispose()
    return result


def simulator_call_ms(tmp: Path) -> dict[str, float]:
    sim = portal_with_base(tmp, 1000)
    deals = sorted(i for (kind, i) in wl.holders_of(sim) if kind == "deal")[:100]
    started = time.perf_counter()
    for item in deals:
        sim.call("crm.deal.update", {"id": item, "fields": {"ASSIGNED_BY_ID": wl.DEPUTY}})
    direct = (time.perf_counter() - started) / len(deals)
    cmd = {f"c{n}": f"crm.deal.update?id={item}&fields[ASSIGNED_BY_ID]={wl.OWNER}"
           for n, item in enumerate(deals[:50])}
    started = time.perf_counter()
    sim.call("batch", {"cmd": cmd})
    batched = (time.perf_counter() - started) / len(cmd)
    sim.engine.dispose()
    return {"crm_deal_update_direct_ms": round(direct * 1000, 2),
            "crm_deal_update_in_batch_ms": round(batched * 1000, 2)}


@contextmanager
def served(sim: Simulator, *, rate_limit: bool = False) -> Iterator[str]:
    """The simulator's own server (``python -m simulator serve``) on a free port."""
    sim.settings.set("rate_limit", {"enabled": rate_limit, "x": 50, "y": 2.0,
                                    "operating_limit": None})
    port = free_port()
    env = {**os.environ, "PORTAL_SIM_WEBHOOK_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--port", str(port), "--database",
         str(sim.engine.url), "--tick-seconds", "0"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/rest/1/{TOKEN}/"
    try:
        for _ in range(200):
            try:
                requests.get(url + "profile", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def bench_http(tmp: Path, size: int) -> dict[str, Any]:
    sim = portal_with_base(tmp, size)
    before = wl.holders_of(sim)
    with served(sim) as url:
        app = extension(tmp, PORTAL_MODE="rest", PORTAL_WEBHOOK_URL=url,
                        PORTAL_RATE_PER_SECOND=10_000.0, PORTAL_RATE_POOL=10_000)
        result = run_engine(app, size)
    assert wl.holders_of(sim) == before
    return result


def naive_round(url: str, items: list[tuple[str, int]], to: int) -> None:
    session = requests.Session()
    for kind, item_id in items:
        method, id_name, base, field = {
            "smart_invoice": ("crm.item.update", "id", {"entityTypeId": 31}, "assignedById"),
            "activity": ("crm.activity.update", "id", {}, "RESPONSIBLE_ID"),
            "task": ("tasks.task.update", "taskId", {}, "RESPONSIBLE_ID")}.get(
            kind, (f"crm.{kind}.update", "id", {}, "ASSIGNED_BY_ID"))
        while True:
            answer = session.post(url + method, json={**base, id_name: item_id,
                                                      "fields": {field: to}}, timeout=60)
            if answer.status_code != 503:  # QUERY_LIMIT_EXCEEDED: wait as a client must
                break
            time.sleep(0.5)
        answer.raise_for_status()


def bench_naive(tmp: Path, size: int) -> dict[str, Any]:
    sim = portal_with_base(tmp, size)
    items = sorted(wl.holders_of(sim, (wl.OWNER,)))
    with served(sim) as url:
        started = time.perf_counter()
        naive_round(url, items, wl.DEPUTY)
        naive_round(url, items, wl.OWNER)
        seconds = time.perf_counter() - started
    return {"items": size, "over_and_back_s": round(seconds, 3),
            "items_per_s": round(2 * size / seconds, 1)}


def bench_rate_limited(tmp: Path, size: int, naive_items: int) -> dict[str, Any]:
    sim = portal_with_base(tmp, size)
    with served(sim, rate_limit=True) as url:
        app = extension(tmp, PORTAL_MODE="rest", PORTAL_WEBHOOK_URL=url,
                        PORTAL_RATE_PER_SECOND=2.0, PORTAL_RATE_POOL=50)
        with app.app_context():
            client = client_for(current_portal())
            for _ in range(50):  # fill both buckets: measure the steady rate, not the burst
                client.call("profile")
        result = run_engine(app, size)
        session_items = sorted(wl.holders_of(sim, (wl.OWNER,)))[:naive_items]
        for _ in range(50):
            requests.get(url + "profile", timeout=10)
        started = time.perf_counter()
        naive_round(url, session_items, wl.DEPUTY)
        naive_seconds = time.perf_counter() - started
    apply_rate = size / result["apply_s"]
    return {"batch": {**result, "apply_items_per_s": round(apply_rate, 1),
                      "restore_items_per_s": round(size / result["restore_s"], 1),
                      "share_of_theoretical_100_per_s": round(apply_rate / 100.0, 3)},
            "naive": {"items": naive_items, "seconds": round(naive_seconds, 3),
                      "items_per_s": round(naive_items / naive_seconds, 2)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true", help="100,000 items through the "
                        "simulator too (in-process and HTTP; tens of minutes)")
    args = parser.parse_args()
    sizes = [1000] if args.quick else [1000, 10_000, 100_000]
    portal_sizes = [s for s in sizes if s < 100_000 or args.full]
    out: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                       "cpus": os.cpu_count(), "system": platform.system()},
                           "results": {}}
    results = out["results"]
    with tempfile.TemporaryDirectory(prefix="handover-bench-") as name:
        tmp = Path(name)
        results["floor"] = [bench_floor(tmp, s) for s in sizes]
        results["engine_only"] = [bench_engine_only(tmp, s) for s in sizes]
        results["simulator_call_ms"] = simulator_call_ms(tmp)
        results["inprocess"] = [bench_inprocess(tmp, s) for s in portal_sizes]
        results["inprocess_with_events"] = [bench_inprocess(tmp, 1000, events=True)]
        results["http_batch"] = [bench_http(tmp, s) for s in portal_sizes]
        results["naive"] = [bench_naive(tmp, 1000)]
        if not args.quick:
            results["rate_limited"] = bench_rate_limited(tmp, 5000, naive_items=40)
    out["ratios"] = ratios(results)
    print(json.dumps(out, indent=2))


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    def per_item(rows: list[dict[str, Any]], size: int) -> float | None:
        found = [r for r in rows if r["items"] == size]
        return found[0]["over_and_back_s"] / size if found else None

    out: dict[str, Any] = {}
    naive = per_item(results["naive"], 1000)
    http = per_item(results["http_batch"], 1000)
    if naive and http:
        out["http_batch_vs_naive_speedup_1000"] = round(naive / http, 2)
    for size in (1000, 10_000, 100_000):
        floor = per_item(results["floor"], size)
        for path in ("engine_only", "inprocess"):
            cost = per_item(results[path], size)
            if floor and cost:
                out[f"{path}_vs_floor_{size}"] = round(cost / floor, 1)
    limited = results.get("rate_limited")
    if limited:
        out["rate_limited_batch_vs_naive_speedup"] = round(
            limited["batch"]["apply_items_per_s"] / limited["naive"]["items_per_s"], 1)
    return out


if __name__ == "__main__":
    main()

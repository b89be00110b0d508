"""Visit reports in numbers: how fast, how many portal requests, against baselines in the same
run. Prints JSON.

    python bench/distribution.py             # 100 and 1,000 reports (a few minutes)
    python bench/distribution.py --quick     # 50 reports
    python bench/distribution.py --full      # adds 10,000 reports (tens of minutes)

Each run files ``size`` visit reports with 1-4 lines each (bench/distribution_workload.py: three
departments of four managers, four lines over two pipelines, leads with a company and a
contact) and runs them (``TASK_RUNNER=inline``: the run follows each submission), then checks
every report is done with one deal per line and one control task. Paths:

- ``inprocess``: the extension calling the simulated portal in-process;
- ``rest``: the simulator served over HTTP (its own server process), the extension calling
  its webhook with the HTTP transport.

For each: ``reports_per_s`` (submission and run), and the portal requests per report split in
``write_requests`` (a ``batch`` or call that creates or changes something), ``read_requests``
(the lead, the loads, the look-up) and ``clock_requests`` (``server.time``, the portal's
clock), against ``minimum_requests`` = 1: every write of a report fits one ``batch`` (deals,
company and contact when missing, control task, lead update, notices; at most 4 + 3 + 4 + 1 +
4 = 16 commands).

Baselines, same portal and same run:

- ``floor``: the same writes as bare ``batch`` requests straight to the portal (in-process:
  the simulator's dispatcher; rest: one HTTP POST each), no extension at all: the portal's own
  cost of a report; ``vs_floor`` = the extension's seconds per report / the floor's;
- ``decide_ms``: the decisions alone (``services.decide``: the directory, the absences, the
  open-deal loads of each line's department in one ``batch``), and ``rules_ms``: the pure
  picking (``rules.pick`` per line and ``rules.pick_main``) without any reads.

No timing is asserted; this reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench import distribution_workload as wl  # noqa: E402
from bench.handover import TOKEN, served  # noqa: E402
from portal_ext import create_app  # noqa: E402
from portal_ext.directory.models import PortalUser  # noqa: E402
from portal_ext.distribution import rules, services  # noqa: E402
from portal_ext.distribution.models import DONE, VisitReport  # noqa: E402
from portal_ext.extensions import db  # noqa: E402
from portal_ext.portal.client import PortalClient  # noqa: E402
from portal_ext.portal.clock import host_utcnow  # noqa: E402
from portal_ext.portal.registration import client_for, close_clients, current_portal  # noqa: E402
from simulator import Simulator  # noqa: E402

QUIET = {"TASK_RUNNER": "inline", "SECRET_KEY": "bench", "TICK_SECONDS": 3600.0,
         "PORTAL_LANGUAGE": "en"}
WRITES = ("add", "update", "delete")


def extension(tmp: Path, **config: Any) -> Flask:
    path = tmp / f"ext-{time.monotonic_ns()}.db"
    app = create_app({**QUIET, "DATABASE_URL": f"sqlite:///{path}", **config})
    with app.app_context():
        db.create_all()
    return app


def _writes(method: str) -> bool:
    return method.split("?")[0].rsplit(".", 1)[-1] in WRITES or method.startswith("im.notify")


def kind_of(method: str, params: Any) -> str:
    if method == "server.time":
        return "clock"
    if method == "batch":
        commands = (params or {}).get("cmd") or {}
        return "write" if any(_writes(c) for c in commands.values()) else "read"
    return "write" if _writes(method) else "read"


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Every portal request the extension sends, by kind (PortalClient.call_raw is the one
    way out)."""
    counts: Counter[str] = Counter()
    original = PortalClient.call_raw

    def counted(self: PortalClient, method: str, params: Any = None) -> Any:
        counts[kind_of(method, params)] += 1
        return original(self, method, params)

    PortalClient.call_raw = counted  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        PortalClient.call_raw = original  # type: ignore[method-assign]


def file_reports(app: Flask, leads: list[int]) -> dict[str, Any]:
    """Configure, then file and run a report per lead; timings and request counts."""
    with app.app_context():
        portal = current_portal()
        client = client_for(portal)
        line_ids = wl.configure(portal=portal, client=client, now=host_utcnow())
        admin = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_id == portal.id, PortalUser.portal_user_id == 1)).one()
        with counting() as counts:
            started = time.perf_counter()
            for n, lead in enumerate(leads):
                data = services.ReportInput(lead_id=lead, line_ids=wl.report_lines(n, line_ids))
                services.submit_report(portal=portal, client=client, actor=admin, data=data,
                                       now=host_utcnow(), seed=n)
            seconds = time.perf_counter() - started
        reports = list(db.session.scalars(select(VisitReport)))
        assert len(reports) == len(leads)
        assert all(r.state == DONE and len(r.deals) == len(r.line_ids) and r.control_task_id
                   for r in reports), [r.error for r in reports if r.state != DONE][:3]
        lines_total = sum(len(r.line_ids) for r in reports)
        decide_ms = decision_ms(portal=portal, client=client, line_ids=line_ids,
                                count=min(len(leads), 200))
        close_clients(app)
        db.session.remove()
        db.engine.dispose()
    size = len(leads)
    return {"reports": size, "lines_per_report": round(lines_total / size, 2),
            "seconds": round(seconds, 3), "reports_per_s": round(size / seconds, 1),
            "ms_per_report": round(seconds * 1000 / size, 2),
            "write_requests_per_report": round(counts["write"] / size, 3),
            "read_requests_per_report": round(counts["read"] / size, 3),
            "clock_requests_per_report": round(counts["clock"] / size, 3),
            "minimum_requests_per_report": 1,
            "decide_ms": decide_ms}


def decision_ms(*, portal: Any, client: PortalClient, line_ids: list[int],
                count: int) -> float:
    """The decisions alone, without recording anything (services.decide)."""
    known = {line.id: line for line in services.lines(portal.id)}
    started = time.perf_counter()
    for n in range(count):
        chosen = [known[i] for i in wl.report_lines(n, line_ids)]
        services.decide(portal=portal, client=client, now=host_utcnow(), chosen_lines=chosen,
                        seed=n)
    db.session.rollback()
    return round((time.perf_counter() - started) * 1000 / count, 3)


def rules_ms(count: int = 10_000) -> float:
    """The pure picking of a report's lines (2.5 on average) and its main manager."""
    now = host_utcnow()
    rng = random.Random(7)
    people = [rules.Person(uid, active=True, absent_until=None, load=rng.randrange(20),
                           picked_today=rng.randrange(3),
                           last_picked_at=now - timedelta(minutes=rng.randrange(600)))
              for uid in range(1, 5)]
    started = time.perf_counter()
    for n in range(count):
        managers = []
        for line in range(1 + (n * 7) % 4):
            decision = rules.pick(line, people, strategy=rules.LEAST_LOADED, now=now, rng=rng,
                                  quota=5)
            managers.append((decision.chosen_id or 1, 0, line))
        rules.pick_main(managers, strategy=rules.LEAST_LOADED, rng=rng, seed=n)
    return round((time.perf_counter() - started) * 1000 / count, 4)


def floor_commands(n: int, lead: int) -> dict[str, str]:
    """A report's writes as bare commands: its deals, control task, lead update, notices."""
    cmd: dict[str, str] = {}
    lines = wl.report_lines(n, list(range(len(wl.LINES))))
    for k, index in enumerate(lines):
        line = wl.LINES[index]
        cmd[f"d{k}"] = (f"crm.item.add?entityTypeId=2&fields[title]=Floor%20{n}"
                        f"&fields[categoryId]={line['category_id']}"
                        f"&fields[stageId]={line['stage_id']}&fields[assignedById]=5"
                        f"&fields[leadId]={lead}")
    refs = "&".join(f"fields[UF_CRM_TASK][{k}]=D_$result[d{k}][item][id]"
                    for k in range(len(lines)))
    cmd["task"] = f"tasks.task.add?fields[TITLE]=Floor%20{n}&fields[RESPONSIBLE_ID]=5&{refs}"
    cmd["lead"] = f"crm.lead.update?id={lead}&fields[STATUS_ID]=CONVERTED"
    for k in range(len(lines)):
        cmd[f"n{k}"] = f"im.notify.system.add?USER_ID=5&MESSAGE=deal%20$result[d{k}][item][id]"
    return cmd


def floor(sim: Simulator, leads: list[int], url: str | None) -> dict[str, Any]:
    started = time.perf_counter()
    for n, lead in enumerate(leads):
        body = {"halt": 1, "cmd": floor_commands(n, lead)}
        if url is None:
            answer = sim.call("batch", body)["result"]
        else:
            answer = requests.post(url + "batch", json=body, timeout=60).json()["result"]
        assert not answer["result_error"], answer["result_error"]
    seconds = time.perf_counter() - started
    return {"reports": len(leads), "seconds": round(seconds, 3),
            "reports_per_s": round(len(leads) / seconds, 1),
            "ms_per_report": round(seconds * 1000 / len(leads), 2)}


def portal(tmp: Path, size: int) -> tuple[Simulator, list[int], list[int]]:
    """A portal with ``size`` leads for the extension and ``size`` more for the floor."""
    sim = Simulator(f"sqlite:///{tmp / f'sim-{size}-{time.monotonic_ns()}.db'}",
                    webhook_token=TOKEN)
    leads = wl.set_up(sim, 2 * size)
    return sim, leads[:size], leads[size:]


def bench_inprocess(tmp: Path, size: int) -> dict[str, Any]:
    from wsgi import simulator_dispatch

    sim, ours, theirs = portal(tmp, size)
    result = file_reports(extension(tmp, PORTAL_DISPATCH=simulator_dispatch(sim)), ours)
    result["floor"] = floor(sim, theirs, None)
    result["vs_floor"] = round(result["ms_per_report"] / result["floor"]["ms_per_report"], 2)
    sim.engine.dispose()
    return result


def bench_rest(tmp: Path, size: int) -> dict[str, Any]:
    sim, ours, theirs = portal(tmp, size)
    with served(sim) as url:
        app = extension(tmp, PORTAL_MODE="rest", PORTAL_WEBHOOK_URL=url,
                        PORTAL_RATE_PER_SECOND=10_000.0, PORTAL_RATE_POOL=10_000)
        result = file_reports(app, ours)
        result["floor"] = floor(sim, theirs, url)
    result["vs_floor"] = round(result["ms_per_report"] / result["floor"]["ms_per_report"], 2)
    sim.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true", help="10,000 reports too")
    args = parser.parse_args()
    sizes = [50] if args.quick else [100, 1000] + ([10_000] if args.full else [])
    out: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                       "cpus": os.cpu_count(), "system": platform.system()},
                           "results": {"rules_ms": rules_ms()}}
    with tempfile.TemporaryDirectory(prefix="distribution-bench-") as name:
        tmp = Path(name)
        out["results"]["inprocess"] = [bench_inprocess(tmp, s) for s in sizes]
        out["results"]["rest"] = [bench_rest(tmp, s) for s in sizes]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

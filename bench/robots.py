"""Stage robots: leads changing stage through the simulated portal, robot decisions and tasks
per second, in-process and over REST against the rate limit's floor. Prints JSON.

    .venv/bin/python bench/robots.py                   # 1,000 and 10,000 leads
    .venv/bin/python bench/robots.py --sizes 500       # a quick look

For each size, on a portal of a few people (the simulator's generator) with one robot on the
lead status ``IN_PROCESS`` (a task due in 4 working hours under the robots' policy):

- ``inprocess``: every lead goes ``NEW -> IN_PROCESS`` through ``crm.lead.update``; the
  portal's in-process event reaches the extension, which decides (the stage entered, its
  robots, the entry's identity from the stage history) and creates the task (``tasks.task.add``
  through the port). ``total_s`` is the wall time of all the updates, tasks included;
  ``extension_s`` the time spent in the robots' handler minus the portal calls it made (the
  extension's own work); ``extension_share`` their ratio. The same updates without any robot
  (``baseline_s``) are the portal's own cost of the moves.
- ``rest``: the same entries seen as over REST, where an event carries only the id: the
  periodic catch-up reads the stage history (50 entries a request) and creates each task. The
  calls go to the simulator in-process (no HTTP) and are counted: ``calls_per_task`` is what
  a cloud portal would be asked, and ``floor_s`` the time its rate limit makes unavoidable at
  the standard plan's 2 requests/s after a burst of 50 (reference wave 2 §0), hence
  ``tasks_per_s_at_floor``.

Nothing is asserted; this reports.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from portal_ext.context import for_portal  # noqa: E402
from portal_ext.directory.services import sync_directory  # noqa: E402
from portal_ext.extensions import db  # noqa: E402
from portal_ext.portal.client import PortalClient  # noqa: E402
from portal_ext.portal.clock import host_utcnow  # noqa: E402
from portal_ext.portal.registration import client_for, close_clients, current_portal  # noqa: E402
from portal_ext.robots import services  # noqa: E402
from portal_ext.robots.models import RobotRun  # noqa: E402
from simulator import Simulator  # noqa: E402
from simulator.scenarios.generator import generate  # noqa: E402
from wsgi import wire_simulated  # noqa: E402

USERS = 6
RATE_PER_S, BURST = 2.0, 50
QUIET = {"TASK_RUNNER": "inline", "SECRET_KEY": "bench", "TICK_SECONDS": 3600.0,
         "DIRECTORY_SYNC_SECONDS": 10**9, "ABSENCE_CHART_POLL_SECONDS": 10**9}
ROBOT = {"entity": "lead", "status_id": "IN_PROCESS", "title": "Call back {TITLE}",
         "description": "{COMPANY_TITLE} {PHONE} {LINK}", "deadline_hours": 4}


class Meter:
    """Time in the robots' handler, and in the portal calls made from it."""

    def __init__(self) -> None:
        self.handler_s = 0.0
        self.portal_s = 0.0
        self.inside = False
        self.calls: Counter[str] = Counter()

    def install(self) -> None:
        original_call = PortalClient.call_raw
        original_change = services.on_item_change
        meter = self

        def call_raw(client: PortalClient, method: str, params: Any = None) -> Any:
            meter.calls[method] += 1
            if not meter.inside:
                return original_call(client, method, params)
            began = time.perf_counter()
            try:
                return original_call(client, method, params)
            finally:
                meter.portal_s += time.perf_counter() - began

        def on_item_change(*args: Any, **kwargs: Any) -> Any:
            meter.inside = True
            began = time.perf_counter()
            try:
                return original_change(*args, **kwargs)
            finally:
                meter.handler_s += time.perf_counter() - began
                meter.inside = False

        setattr(PortalClient, "call_raw", call_raw)  # noqa: B010
        setattr(services, "on_item_change", on_item_change)  # noqa: B010


def portal(tmp: Path, size: int) -> Simulator:
    sim = Simulator(f"sqlite:///{tmp / f'sim-{size}-{time.monotonic_ns()}.db'}",
                    webhook_token="bench")
    sim.reset()
    generate(sim, companies=0, contacts_per_company=0, activities=0, leads=0, deals=0,
             tasks=0, users=USERS, progress=False)
    return sim


def add_leads(sim: Simulator, size: int) -> list[int]:
    return [int(sim.call("crm.lead.add", {"fields": {
        "TITLE": f"Lead {n}", "STATUS_ID": "NEW", "ASSIGNED_BY_ID": 2 + n % (USERS - 1),
        "COMPANY_TITLE": f"Client {n}",
        "PHONE": [{"VALUE": f"+7 495 {n:07d}", "VALUE_TYPE": "WORK"}]}})["result"])
        for n in range(size)]


def move_all(sim: Simulator, leads: list[int], status: str) -> float:
    began = time.perf_counter()
    for lead in leads:
        sim.call("crm.lead.update", {"id": lead, "fields": {"STATUS_ID": status}})
    return time.perf_counter() - began


def tasks_made(app: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(RobotRun).where(
            RobotRun.outcome == "created")) or 0)


def run(tmp: Path, size: int, meter: Meter) -> dict[str, Any]:
    sim = portal(tmp, size)
    app = wire_simulated(sim, {**QUIET, "DATABASE_URL": f"sqlite:///{tmp / f'ext-{size}.db'}"})
    with app.app_context():
        db.create_all()
        here = current_portal()
        sync_directory(portal=here, client=client_for(here), now=host_utcnow())
    # The portal's own cost of the moves: no robot.
    baseline_leads = add_leads(sim, size)
    baseline_s = move_all(sim, baseline_leads, "IN_PROCESS")
    time.sleep(1.1)  # the portal's times are whole seconds: the robot comes after these
    with app.app_context():
        services.create_robot(for_portal(current_portal()), ROBOT)
    leads = add_leads(sim, size)
    meter.handler_s = meter.portal_s = 0.0
    total_s = move_all(sim, leads, "IN_PROCESS")
    made = tasks_made(app)
    own_s = meter.handler_s - meter.portal_s
    inprocess = {"leads": size, "tasks": made, "total_s": round(total_s, 3),
                 "baseline_s": round(baseline_s, 3), "extension_s": round(own_s, 3),
                 "extension_share": round(own_s / total_s, 4) if total_s else None,
                 "decisions_per_s": round(size / own_s, 1) if own_s else None,
                 "tasks_per_s": round(made / total_s, 1) if total_s else None}

    # Over REST: the same kind of entries, read by the catch-up from the stage history.
    rest_leads = add_leads(sim, size)
    with app.app_context():
        ctx = for_portal(current_portal())
        services.catch_up(ctx)  # the cursor past everything so far
        # Events lost: the robot's handler does not see these moves in-process.
        original = services.on_item_change
        setattr(services, "on_item_change", lambda *a, **k: [])  # noqa: B010
        try:
            move_all(sim, rest_leads, "IN_PROCESS")
        finally:
            setattr(services, "on_item_change", original)  # noqa: B010
        before = made
        meter.calls.clear()
        began = time.perf_counter()
        services.catch_up(for_portal(current_portal()))
        rest_s = time.perf_counter() - began
        close_clients(app)
        db.session.remove()
        db.engine.dispose()
    rest_made = tasks_made(app) - before
    calls = sum(meter.calls.values())
    floor_s = max(calls - BURST, 0) / RATE_PER_S
    rest = {"leads": size, "tasks": rest_made, "taken_s": round(rest_s, 3),
            "portal_calls": calls, "calls_by_method": dict(meter.calls.most_common()),
            "calls_per_task": round(calls / rest_made, 2) if rest_made else None,
            "floor_s": round(floor_s, 1),
            "tasks_per_s_in_process": round(rest_made / rest_s, 1) if rest_s else None,
            "tasks_per_s_at_floor": round(rest_made / floor_s, 3) if floor_s else None}
    sim.engine.dispose()
    return {"inprocess": inprocess, "rest": rest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    meter = Meter()
    meter.install()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            results.append(run(Path(tmp), size, meter))
    print(json.dumps({"benchmark": "robots", "python": platform.python_version(),
                      "machine": platform.machine(), "rate_limit": {
                          "per_s": RATE_PER_S, "burst": BURST},
                      "runs": results}, indent=2))


if __name__ == "__main__":
    main()

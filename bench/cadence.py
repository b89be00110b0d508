"""The contact cadence at size: the report, the full resync and the events. Prints JSON.

    python bench/cadence.py                      # 1,000, 10,000 and 50,000 companies
    python bench/cadence.py --sizes 1000,5000    # chosen sizes
    python bench/cadence.py --quick              # 1,000 companies only
    python bench/cadence.py --sizes 1000,10000 --grow-report-to 50000

Each size is a portal from the large-portal generator (simulator/scenarios/generator.py):
``companies`` companies with two contacts each, as many deals, half as many leads, and
``--per-company`` (20) activities per company: 50,000 companies make 1,000,000 activities.
Then, in the same run:

- ``resync_inprocess``: the full resync (portal_ext.cadence.services.run_resync) calling the
  simulated portal in-process: seconds, ``batch`` requests used and the theoretical minimum
  (per stage: one request for its highest id, then one ``batch`` of 50 ID windows of 50 per
  2,500 ids);
- ``report``: the report's first page (50 rows) for a set of filter combinations (state,
  category, responsible, search) over the read model, p50 and p99 in milliseconds, against
  ``naive``: the same page computed per company (each company's contacts and links read by a
  query of its own, its state decided in Python, then filtered, sorted and paged), which is
  what a report without a read model does;
- ``events``: the incremental update per portal event (an activity added, its handler applied
  to the read model), p50 and p99 in milliseconds;
- ``resync_http`` (the smallest size, ``--http-size``): the full resync over HTTP against the
  simulator's own server with its leaky bucket on (2 requests/s after a pool of 50), the
  extension's client keeping the same pace: requests used against the minimum, and seconds.

No timing is asserted; this reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from handover import QUIET, dispatch_for, extension, served  # noqa: E402
from sqlalchemy import select  # noqa: E402

from portal_ext.cadence import rules, services  # noqa: E402
from portal_ext.cadence.models import CadenceCompany, CadenceContact, CadenceLink  # noqa: E402
from portal_ext.context import for_portal  # noqa: E402
from portal_ext.directory.models import PortalUser  # noqa: E402
from portal_ext.directory.services import sync_directory  # noqa: E402
from portal_ext.extensions import db  # noqa: E402
from portal_ext.portal.clock import host_utcnow  # noqa: E402
from portal_ext.portal.registration import client_for, close_clients, current_portal  # noqa: E402
from simulator import Simulator  # noqa: E402
from simulator.scenarios.generator import generate  # noqa: E402

TOKEN = "benchtoken"
FIELD = "UF_CRM_CATEGORY"
PAGE = 50


def portal(tmp: Path, companies: int, per_company: int) -> tuple[Simulator, dict[str, Any]]:
    sim = Simulator(f"sqlite:///{tmp / f'sim-{companies}-{time.monotonic_ns()}.db'}",
                    webhook_token=TOKEN)
    sim.reset()
    made = generate(sim, companies=companies, activities=companies * per_company,
                    leads=companies // 2, deals=companies, tasks=0, users=50, progress=False)
    return sim, made


def minimum_requests(client: Any, settings: services.Settings) -> int:
    """One request per stage for its highest id, then one batch per 2,500 ids."""
    total = 0
    for stage in services.stages(settings):
        top = services._top_id(client, stage)
        total += 1 + -(-top // (services.PAGE * services.WINDOWS))
    return total


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(p99 * 1000, 2), "runs": len(ordered)}


def setup(app: Any) -> tuple[Any, Any]:
    portal_row = current_portal()
    client = client_for(portal_row)
    sync_directory(portal=portal_row, client=client, now=host_utcnow())
    ctx = for_portal(portal_row, client=client)
    services.save_settings(portal=portal_row, client=client, body={"category_field": FIELD},
                           actor_id=1, now=ctx.now)
    return portal_row, client


def resync(portal_row: Any, client: Any) -> dict[str, Any]:
    ctx = for_portal(portal_row, client=client)
    minimum = minimum_requests(client, services.settings_of(portal_row.id))
    started = time.perf_counter()
    row = services.run_resync(portal=portal_row, client=client, tz=ctx.tz, now=ctx.now)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "requests": row.requests,
            "minimum_requests": minimum,
            "over_minimum": round(row.requests / minimum - 1, 3) if minimum else None}


def naive_page(portal_id: int, filters: services.Filters, today: date,
               settings: services.Settings, tz: Any) -> list[int]:
    """The first page without the read model's due dates: each company on its own."""
    found: list[tuple[Any, int, str]] = []
    for company in db.session.scalars(select(CadenceCompany).where(
            CadenceCompany.portal_id == portal_id)):
        if filters.responsible is not None and company.responsible_id != filters.responsible:
            continue
        if filters.category and company.category != filters.category:
            continue
        if filters.q and filters.q.lower() not in company.title.lower():
            continue
        links = list(db.session.scalars(select(CadenceLink).where(
            CadenceLink.portal_id == portal_id, CadenceLink.company_id == company.company_id)))
        owners = [(rules.COMPANY, company.company_id)] + [
            (link.entity_type_id, link.entity_id) for link in links]
        latest = None
        for type_id, item_id in owners:
            for contact in db.session.scalars(select(CadenceContact).where(
                    CadenceContact.portal_id == portal_id,
                    CadenceContact.owner_type_id == type_id,
                    CadenceContact.owner_id == item_id)):
                if latest is None or contact.at > latest:
                    latest = contact.at
        standing = rules.standing(
            company.category, last_contact=rules.local_date(latest, tz) if latest else None,
            created=company.created_on or today, today=today, intervals=settings.intervals)
        wanted = {"all": True, "overdue": standing.state == rules.OVERDUE,
                  "not_overdue": standing.state in (rules.OK, rules.WARNING)}
        if wanted.get(filters.state, standing.state == filters.state):
            found.append((standing.due_at or date.max, company.company_id, company.title))
    found.sort()
    return [company_id for _due, company_id, _title in found[:PAGE]]


def report(portal_row: Any, runs: int, naive_runs: int) -> dict[str, Any]:
    admin = db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal_row.id, PortalUser.portal_user_id == 1)).one()
    ctx = for_portal(portal_row)
    today = rules.local_date(ctx.now, ctx.tz)
    manager = db.session.scalar(select(CadenceCompany.responsible_id).where(
        CadenceCompany.portal_id == portal_row.id).limit(1))
    title = db.session.scalar(select(CadenceCompany.title).where(
        CadenceCompany.portal_id == portal_row.id).limit(1)) or ""
    word = title.split()[-1][:4] if title.split() else ""
    combos = {
        "overdue": services.Filters(state="overdue"),
        "overdue_A": services.Filters(state="overdue", category="A"),
        "overdue_A_manager": services.Filters(state="overdue", category="A",
                                              responsible=manager),
        "not_overdue_B": services.Filters(state="not_overdue", category="B"),
        "search": services.Filters(q=word),
        "all": services.Filters(),
    }
    out: dict[str, Any] = {}
    settings = services.settings_of(portal_row.id)
    for name, filters in combos.items():
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            page = services.report_page(portal_id=portal_row.id, viewer=admin,
                                        filters=filters, today=today)
            samples.append(time.perf_counter() - started)
        out[name] = {**percentiles(samples), "total": page.total}
    naive_samples = []
    filters = combos["overdue_A"]
    for _ in range(naive_runs):
        started = time.perf_counter()
        naive = naive_page(portal_row.id, filters, today, settings, ctx.tz)
        naive_samples.append(time.perf_counter() - started)
    fast = [r.company_id for r in services.report_page(
        portal_id=portal_row.id, viewer=admin, filters=filters, today=today).items]
    out["naive_overdue_A"] = {**percentiles(naive_samples),
                              "same_first_page_ids": set(naive) == set(fast)}
    out["speedup_overdue_A"] = round(out["naive_overdue_A"]["p50_ms"]
                                     / max(out["overdue_A"]["p50_ms"], 0.001), 1)
    return out


def grow_read_model(portal_row: Any, target: int) -> int:
    """Copy the read model's rows under new company ids until it holds ``target`` companies
    (the report's queries read only this table): the report at a size the generator and the
    resync cannot reach in the time at hand."""
    from sqlalchemy import func, insert

    rows = [{c.name: getattr(r, c.key) for c in CadenceCompany.__table__.columns
             if c.name != "id"}
            for r in db.session.scalars(select(CadenceCompany).where(
                CadenceCompany.portal_id == portal_row.id))]
    count = len(rows)
    top = int(db.session.scalar(select(func.max(CadenceCompany.company_id))) or 0)
    copy = 0
    while count < target:
        copy += 1
        batch = [{**r, "company_id": r["company_id"] + copy * top}
                 for r in rows[:target - count]]
        db.session.execute(insert(CadenceCompany), batch)
        count += len(batch)
    db.session.commit()
    return count


def events(sim: Simulator, portal_row: Any, client: Any, count: int) -> dict[str, Any]:
    """An activity added on the portal, then the extension's handler on it."""
    ctx = for_portal(portal_row, client=client)
    company_ids = list(db.session.scalars(select(CadenceCompany.company_id).where(
        CadenceCompany.portal_id == portal_row.id).limit(count)))
    samples = []
    for company_id in company_ids:
        moment = ctx.now.isoformat() + "+00:00"
        activity_id = int(sim.call("crm.activity.add", {"fields": {
            "OWNER_TYPE_ID": 4, "OWNER_ID": company_id, "TYPE_ID": 2, "DIRECTION": 2,
            "COMPLETED": "Y", "SUBJECT": "bench", "RESPONSIBLE_ID": 1,
            "START_TIME": moment, "END_TIME": moment,
            "COMMUNICATIONS": [{"VALUE": "+70000000000", "TYPE": "PHONE",
                                "ENTITY_TYPE_ID": 4, "ENTITY_ID": company_id}]}})["result"])
        activity = sim.call("crm.activity.list", {"filter": {"ID": activity_id},
                                                  "select": services.ACTIVITY_SELECT})
        started = time.perf_counter()
        services.apply_activity(portal_id=portal_row.id, activity_id=activity_id,
                                activity=activity["result"][0],
                                today=rules.local_date(ctx.now, ctx.tz), tz=ctx.tz,
                                client=client)
        db.session.commit()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def run_size(tmp: Path, companies: int, per_company: int, *, runs: int,
             naive_runs: int, grow_to: int = 0) -> dict[str, Any]:
    started = time.perf_counter()
    sim, made = portal(tmp, companies, per_company)
    generated = time.perf_counter() - started
    app = extension(tmp, PORTAL_DISPATCH=dispatch_for(sim))
    with app.app_context():
        portal_row, client = setup(app)
        result: dict[str, Any] = {
            "companies": companies, "activities": made["activities"],
            "generate_s": round(generated, 1),
            "resync_inprocess": resync(portal_row, client)}
        result["report"] = report(portal_row, runs, naive_runs)
        result["events"] = events(sim, portal_row, client, 50)
        if grow_to > companies:
            result["report_grown"] = {"companies": grow_read_model(portal_row, grow_to),
                                      **report(portal_row, runs, 1)}
        close_clients(app)
        db.session.remove()
        db.engine.dispose()
    sim.engine.dispose()
    return result


def resync_http(tmp: Path, companies: int, per_company: int) -> dict[str, Any]:
    sim, made = portal(tmp, companies, per_company)
    with served(sim, rate_limit=True) as url:
        app = extension(tmp, PORTAL_MODE="rest", PORTAL_WEBHOOK_URL=url,
                        PORTAL_RATE_PER_SECOND=2.0, PORTAL_RATE_POOL=50)
        with app.app_context():
            portal_row, client = setup(app)
            result = {"companies": companies, "activities": made["activities"],
                      "rate": "pool 50, then 2 requests/s", **resync(portal_row, client)}
            result["seconds_at_2_per_s_for_minimum"] = round(
                max(0, result["minimum_requests"] - 50) / 2.0, 1)
            close_clients(app)
            db.session.remove()
            db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--per-company", type=int, default=20)
    parser.add_argument("--http-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--grow-report-to", type=int, default=0,
                        help="after the largest size, copy its read model's rows up to this "
                        "many companies and measure the report again")
    args = parser.parse_args()
    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    out: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                       "cpus": os.cpu_count(), "system": platform.system()},
                           "per_company": args.per_company, "results": []}
    assert QUIET
    with tempfile.TemporaryDirectory(prefix="cadence-bench-") as name:
        tmp = Path(name)
        for size in sizes:
            grow = args.grow_report_to if size == max(sizes) else 0
            out["results"].append(run_size(tmp, size, args.per_company, runs=args.runs,
                                           naive_runs=3 if size <= 10_000 else 1,
                                           grow_to=grow))
            print(json.dumps(out["results"][-1]), file=sys.stderr, flush=True)
        out["resync_http"] = resync_http(tmp, args.http_size, args.per_company)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

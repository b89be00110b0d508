"""How long the large-portal generator takes, against the naive way of filling a portal.

    python bench/generate.py                      # 1k, 10k, 50k companies, 20 activities each
    python bench/generate.py --quick              # small sizes, a minute or less
    python bench/generate.py --sizes 5000,20000 --database postgresql+psycopg://postgres@127.0.0.1:5432/test

Prints JSON. The baseline runs in the same process on the same kind of database: the same
kind of rows added one REST call at a time (``sim.call("crm.company.add")`` and
``sim.call("crm.activity.add")``) for a small sample, timed per row and extrapolated to each
size; ``speedup`` is that estimate divided by the generator's real time. The database given
with ``--database`` is wiped before every run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import Simulator
from simulator.scenarios.generator import generate

CONTACTS_PER_COMPANY = 2


def sizes_for(companies: int, per_company: int) -> dict[str, int]:
    return {"companies": companies, "contacts_per_company": CONTACTS_PER_COMPANY,
            "activities": companies * per_company, "leads": companies // 2,
            "deals": companies, "tasks": companies // 5, "users": 50}


def open_portal(database: str | None, workdir: Path, name: str) -> Simulator:
    url = database or f"sqlite:///{workdir / f'{name}.db'}"
    sim = Simulator(url, webhook_token="bench")
    sim.reset()
    return sim


def naive_baseline(database: str | None, workdir: Path, sample: int) -> dict[str, Any]:
    """Seconds per company and per activity when each row is one REST call."""
    sim = open_portal(database, workdir, "baseline")
    try:
        generate(sim, companies=0, activities=0, leads=0, deals=0, tasks=0, users=50,
                 progress=False)
        started = perf_counter()
        companies = []
        for number in range(sample):
            companies.append(int(sim.call("crm.company.add", {"fields": {
                "TITLE": f"ООО «Клиент {number}»", "ASSIGNED_BY_ID": 3 + number % 40,
                "COMPANY_TYPE": "CUSTOMER", "UF_CRM_CATEGORY": str(1 + number % 3),
                "PHONE": [{"VALUE": f"+7 (495) 100-{number:04d}", "VALUE_TYPE": "WORK"}],
                "EMAIL": [{"VALUE": f"info{number}@client.test", "VALUE_TYPE": "WORK"}],
            }})["result"]))
        per_company = (perf_counter() - started) / sample
        started = perf_counter()
        for number in range(sample):
            company = companies[number % len(companies)]
            sim.call("crm.activity.add", {"fields": {
                "OWNER_TYPE_ID": 4, "OWNER_ID": company, "TYPE_ID": 2, "DIRECTION": 2,
                "SUBJECT": "Исходящий звонок", "COMPLETED": "Y", "RESPONSIBLE_ID": 3,
                "COMMUNICATIONS": [{"VALUE": "+7 (495) 100-0000", "ENTITY_TYPE_ID": 4,
                                    "ENTITY_ID": company, "TYPE": "PHONE"}],
                "SETTINGS": {"CALL_FAILED_CODE": "200"},
            }})
        per_activity = (perf_counter() - started) / sample
    finally:
        sim.bus.clear_subscribers()
        sim.engine.dispose()
    return {"method": "one sim.call per row", "sample": sample,
            "seconds_per_crm_item": round(per_company, 6),
            "seconds_per_activity": round(per_activity, 6)}


def measure(database: str | None, workdir: Path, companies: int, per_company: int,
            baseline: dict[str, Any] | None, progress: bool) -> dict[str, Any]:
    counts = sizes_for(companies, per_company)
    sim = open_portal(database, workdir, f"portal_{companies}")
    try:
        summary = generate(sim, **counts, progress=progress)
    finally:
        sim.engine.dispose()
    seconds = summary["seconds"]
    run: dict[str, Any] = {
        "companies": companies, "activities": counts["activities"], "rows": summary["rows"],
        "seconds": seconds, "rows_per_second": round(summary["rows"] / max(seconds, 1e-9)),
    }
    if baseline is not None:
        crm_items = companies * (1 + CONTACTS_PER_COMPANY) + counts["leads"] + counts["deals"]
        naive = (crm_items + counts["tasks"]) * baseline["seconds_per_crm_item"] \
            + counts["activities"] * baseline["seconds_per_activity"]
        run["naive_estimate_seconds"] = round(naive, 1)
        run["speedup"] = round(naive / max(seconds, 1e-9), 1)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000",
                        help="companies per run, comma-separated")
    parser.add_argument("--activities-per-company", type=int, default=20)
    parser.add_argument("--database", default=None,
                        help="SQLAlchemy URL (wiped before each run); default: temporary SQLite")
    parser.add_argument("--sample", type=int, default=200,
                        help="rows added one call at a time for the baseline")
    parser.add_argument("--quick", action="store_true", help="small sizes and sample")
    parser.add_argument("--progress", action="store_true", help="progress bars on stderr")
    args = parser.parse_args()
    sizes = [200, 1000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    sample = min(args.sample, 40) if args.quick else args.sample
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        workdir = Path(tmp)
        try:
            baseline: dict[str, Any] | None = naive_baseline(args.database, workdir, sample)
            baseline_error = None
        except Exception as error:  # the REST methods are what the baseline measures
            baseline, baseline_error = None, f"{type(error).__name__}: {error}"
        runs = [measure(args.database, workdir, n, args.activities_per_company, baseline,
                        args.progress) for n in sizes]
    report: dict[str, Any] = {
        "benchmark": "large-portal generator",
        "database": args.database.split("@")[-1] if args.database else "sqlite (temporary file)",
        "activities_per_company": args.activities_per_company,
        "baseline": baseline if baseline is not None else {"error": baseline_error},
        "runs": runs,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

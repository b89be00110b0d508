#!/usr/bin/env python3
"""The two commands: ``python3 dev.py demo`` and ``python3 dev.py test``.

Only the standard library is used here, so a fresh machine with Python 3.11+ is enough: the
script creates ``.venv``, installs the project into it, and runs the job inside it.
"""

from __future__ import annotations

import argparse
import calendar
import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".installed"
REPORTS = ROOT / "build" / "test-reports"  # each tier's JUnit XML
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CI_BUDGET_SECONDS = 1800  # the whole test command in CI, on a 2-core machine


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None, check: bool = True) -> int:
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if check and result.returncode != 0:
        sys.exit(result.returncode)
    return result.returncode


def ensure_venv(extras: str) -> None:
    """Create the virtual environment and install the project (again when pyproject changed)."""
    if not PY.exists():
        say("creating .venv")
        run(sys.executable, "-m", "venv", VENV)
        run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    wanted = f"{extras}:{(ROOT / 'pyproject.toml').stat().st_mtime_ns}"
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    say(f"installing the project into .venv ({extras or 'runtime'} dependencies)")
    target = f".[{extras}]" if extras else "."
    run(PY, "-m", "pip", "install", "--quiet", "-e", target)
    STAMP.write_text(wanted)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def ensure_chromium() -> None:
    """Browser tests drive Debian's Chromium. In CI (root, Debian) install it when missing."""
    if CHROMIUM.exists() or not IN_CI:
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        say("installing Debian's chromium for the browser tests")
        run("apt-get", "update", "-qq", check=False)
        run("apt-get", "install", "-y", "-qq", "chromium", check=False)


def demo(args: argparse.Namespace) -> None:
    ensure_venv("")
    env = {**os.environ, "FLASK_APP": "wsgi"}
    say("preparing the database")
    run(BIN / "flask", "--app", "wsgi", "db", "upgrade", env=env)
    say(f"starting the demo on http://{args.host}:{args.port}")
    os.execve(str(BIN / "flask"), [str(BIN / "flask"), "--app", "wsgi", "demo",
                                   "--host", args.host, "--port", str(args.port)], env)


def shifted_days(today: date) -> list[tuple[str, str]]:
    """The other days the ``dated`` tests run as of: (what, ``--as-of`` value). Times are the
    portal's (Moscow); 00:30 on a Sunday is still Saturday in UTC."""
    sunday = today + timedelta(days=(6 - today.weekday()) % 7 or 7)
    new_year_eve = date(today.year + (today.month == 12 and today.day == 31), 12, 31)
    leap = next(y for y in itertools.count(today.year)
                if calendar.isleap(y) and date(y, 2, 29) >= today)
    return [("tomorrow", "+1"),
            ("the next Sunday, 00:30", f"{sunday.isoformat()}T00:30"),
            ("31 December, 22:30", f"{new_year_eve.isoformat()}T22:30"),
            ("29 February", f"{leap}-02-29"),
            ("400 days on", "+400")]


class Tiers:
    """Runs the suite's tiers one after another, timing each, within an optional budget."""

    def __init__(self, budget: float | None) -> None:
        self.budget = budget
        self.started = time.monotonic()
        self.failed = False
        self.times: list[tuple[str, float]] = []
        self.totals = {"passed": 0, "failed": 0, "skipped": 0}
        REPORTS.mkdir(parents=True, exist_ok=True)

    def run(self, title: str, command: list[str], env: dict[str, str], *,
            may_select_none: bool = False) -> None:
        say(title)
        began = time.monotonic()
        report = REPORTS / f"tier-{len(self.times) + 1}.xml"
        report.unlink(missing_ok=True)
        code = run(*command, f"--junit-xml={report}", env=env, check=False)
        self.times.append((title, time.monotonic() - began))
        self.count(report)
        # pytest's 5: no test selected, fine where a marker narrows what was asked for
        self.failed = self.failed or code not in ((0, 5) if may_select_none else (0,))

    def count(self, report: Path) -> None:
        """Add a tier's numbers (its JUnit XML report) to the run's."""
        if not report.exists():
            return
        for suite in ElementTree.parse(report).getroot().iter("testsuite"):
            tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
            failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            self.totals["passed"] += tests - skipped - failed
            self.totals["failed"] += failed
            self.totals["skipped"] += skipped

    def finish(self) -> None:
        total = time.monotonic() - self.started
        for title, seconds in self.times:
            say(f"{seconds:6.0f} s  {title}")
        say(f"{total:6.0f} s  in all" + (f" (budget {self.budget:.0f} s)" if self.budget else ""))
        if self.budget and total > self.budget:
            say(f"over the time budget of {self.budget:.0f} s")
            self.failed = True
        # Every tier's tests together, as one closing line.
        print("all tiers: {passed} passed, {failed} failed, {skipped} skipped".format(
            **self.totals), flush=True)
        sys.exit(1 if self.failed else 0)


def test(args: argparse.Namespace) -> None:
    ensure_venv("dev")
    ensure_chromium()
    tiers = Tiers(args.budget)
    selected = args.pytest_args
    pytest = [str(PY), "-m", "pytest", *selected]
    # Two test processes (the CI machine has two cores); on PostgreSQL each has its own
    # database (tests/conftest.py).
    parallel = ["-n", str(min(os.cpu_count() or 1, 2))]
    env = {**os.environ}
    for name in ("PORTAL_EXT_TEST_DATABASE_URL", "PORTAL_EXT_TEST_AS_OF"):
        env.pop(name, None)
    tiers.run("test suite on SQLite", [*pytest, *parallel], env)

    have_pg, have_redis = reachable("127.0.0.1", 5432), reachable("127.0.0.1", 6379)
    if have_pg and have_redis:
        pg_env = {**env, "PORTAL_EXT_TEST_DATABASE_URL": PG_URL, "PORTAL_EXT_TEST_REDIS_URL":
                  REDIS_URL}
        tiers.run("test suite again on PostgreSQL",
                  [*pytest, *parallel, "-m", "not browser and not redis"], pg_env)
        # Alone: their Celery workers hold leases that a CPU shared with more work could
        # outlast, and the tests count exactly-once deliveries.
        tiers.run("the killed-worker tests on PostgreSQL, with real Celery workers on Redis",
                  [*pytest, "-m", "redis"], pg_env, may_select_none=True)
    elif IN_CI:
        say("PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are required in CI")
        tiers.failed = True
    else:
        say("skipping the PostgreSQL/Redis run: servers not reachable on 127.0.0.1")

    if not args.today_only:
        for what, when in shifted_days(date.today()):
            tiers.run(f"dated tests as of {what} (--as-of {when})",
                      [*pytest, *parallel, "-m", "dated", "--as-of", when, "-q"], env,
                      may_select_none=True)
    tiers.finish()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="install and run the demo on :5000 "
                                                "(--host, --port to move it)")
    demo_cmd.add_argument("--host", default="127.0.0.1")
    demo_cmd.add_argument("--port", type=int, default=5000)
    demo_cmd.set_defaults(func=demo)
    test_cmd = commands.add_parser("test", help="install and run the whole test suite")
    test_cmd.add_argument("--budget", type=float, metavar="SECONDS",
                          default=CI_BUDGET_SECONDS if IN_CI else None,
                          help="fail when all the tiers together take longer "
                               f"(default in CI: {CI_BUDGET_SECONDS})")
    test_cmd.add_argument("--today-only", action="store_true",
                          help="skip the runs of the dated tests as of other days")
    test_cmd.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test_cmd.set_defaults(func=test)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The two commands: ``python3 dev.py demo`` and ``python3 dev.py test``.

Only the standard library is used here, so a fresh machine with Python 3.11+ is enough: the
script creates ``.venv``, installs the project into it, and runs the job inside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".installed"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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


def test(args: argparse.Namespace) -> None:
    ensure_venv("dev")
    ensure_chromium()
    pytest = [str(PY), "-m", "pytest", *args.pytest_args]
    env = {**os.environ}
    env.pop("PORTAL_EXT_TEST_DATABASE_URL", None)
    say("test suite on SQLite")
    failed = run(*pytest, env=env, check=False) not in (0,)

    have_pg, have_redis = reachable("127.0.0.1", 5432), reachable("127.0.0.1", 6379)
    if have_pg and have_redis:
        say("test suite again on PostgreSQL, with a real Celery worker on Redis")
        pg_env = {**env, "PORTAL_EXT_TEST_DATABASE_URL": PG_URL, "PORTAL_EXT_TEST_REDIS_URL":
                  REDIS_URL}
        failed = run(*pytest, "-m", "not browser", env=pg_env, check=False) != 0 or failed
    elif IN_CI:
        say("PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are required in CI")
        failed = True
    else:
        say("skipping the PostgreSQL/Redis run: servers not reachable on 127.0.0.1")
    sys.exit(1 if failed else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="install and run the demo on :5000 "
                                                "(--host, --port to move it)")
    demo_cmd.add_argument("--host", default="127.0.0.1")
    demo_cmd.add_argument("--port", type=int, default=5000)
    demo_cmd.set_defaults(func=demo)
    test_cmd = commands.add_parser("test", help="install and run the whole test suite")
    test_cmd.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test_cmd.set_defaults(func=test)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()

"""Run the simulated portal on its own.

    python -m simulator serve [--host 127.0.0.1] [--port 5100] [--database URL]
                              [--cert FILE --key FILE] [--seed demo]
    python -m simulator seed (--demo | --companies N --activities M [--seed S]) [--database URL]
    python -m simulator tick [--database URL]

The database defaults to ``PORTAL_SIM_DATABASE_URL`` or ``sqlite:///instance/simulator.db``.
``seed`` and ``serve --seed demo`` replace the portal's data (demo or generated). The
incoming-webhook token of user 1 comes from ``PORTAL_SIM_WEBHOOK_TOKEN``, else the one the
database already has, else a random one; ``serve`` prints the webhook URL either way.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from simulator.portal import Simulator


def _default_database() -> str:
    configured = os.environ.get("PORTAL_SIM_DATABASE_URL")
    if configured:
        return configured
    folder = Path("instance")
    folder.mkdir(exist_ok=True)
    return f"sqlite:///{(folder / 'simulator.db').resolve()}"


def _open(database: str | None, portal_url: str = "http://127.0.0.1:5100") -> Simulator:
    return Simulator(database or _default_database(), portal_url=portal_url)


def serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import run_simple

    from simulator.web import create_app

    if bool(args.cert) != bool(args.key):
        print("--cert and --key go together", file=sys.stderr)
        return 2
    scheme = "https" if args.cert else "http"
    sim = _open(args.database, f"{scheme}://{args.host}:{args.port}")
    if args.seed:
        sim.reset()
        print(json.dumps(sim.seed(args.seed), default=str))
    print(f"Portal:          {sim.portal_url}/", flush=True)
    print(f"Incoming webhook: {sim.webhook_url(1)}", flush=True)
    ssl_context: Any = (args.cert, args.key) if args.cert else None
    run_simple(args.host, args.port, create_app(sim), threaded=True, ssl_context=ssl_context)
    return 0


def seed(args: argparse.Namespace) -> int:
    """Replace the portal's data with the demo portal or a generated one."""
    sim = _open(args.database)
    if args.demo:
        sim.reset()
        summary = sim.seed("demo")
    else:
        generator = {name: value for name, value in (
            ("companies", args.companies), ("activities", args.activities), ("seed", args.seed),
        ) if value is not None}
        if not generator:
            print("give --demo or generator sizes (--companies, --activities)", file=sys.stderr)
            return 2
        sim.reset()
        summary = sim.seed(None, **generator)
    print(json.dumps(summary, default=str))
    return 0


def tick(args: argparse.Namespace) -> int:
    # simulator.ticks holds the portal's time-driven work (deadline notices, absences...).
    ticks = importlib.import_module("simulator.ticks")
    print(json.dumps(ticks.tick(_open(args.database)), default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="serve the portal over HTTP(S)")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=5100)
    serve_cmd.add_argument("--database")
    serve_cmd.add_argument("--cert", help="TLS certificate (PEM); with --key serves HTTPS")
    serve_cmd.add_argument("--key", help="TLS private key (PEM)")
    serve_cmd.add_argument("--seed", choices=["demo"], help="load the demo portal first")
    serve_cmd.set_defaults(func=serve)

    seed_cmd = commands.add_parser("seed", help="load the demo portal or generate a large one")
    seed_cmd.add_argument("--database")
    seed_cmd.add_argument("--demo", action="store_true")
    seed_cmd.add_argument("--companies", type=int)
    seed_cmd.add_argument("--activities", type=int)
    seed_cmd.add_argument("--seed", type=int, help="random seed of the generator")
    seed_cmd.set_defaults(func=seed)

    tick_cmd = commands.add_parser("tick", help="run the portal's time-driven work once")
    tick_cmd.add_argument("--database")
    tick_cmd.set_defaults(func=tick)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

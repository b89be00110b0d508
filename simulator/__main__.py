"""Run the simulated portal on its own.

    python -m simulator serve [--host 127.0.0.1] [--port 5100] [--database URL]
                              [--cert FILE --key FILE] [--seed demo]
                              [--tick-seconds 30] [--life SECONDS]
    python -m simulator seed (--demo | [--companies N] [--contacts-per-company N]
                              [--activities N] [--leads N] [--deals N] [--tasks N]
                              [--users N] [--seed S]) [--database URL]
    python -m simulator tick [--database URL]

The database defaults to ``PORTAL_SIM_DATABASE_URL`` or ``sqlite:///instance/simulator.db``.
``seed`` and ``serve --seed demo`` replace the portal's data (demo or generated; generator
parameters left out keep their defaults). ``serve`` runs the portal's tick (deadline notices)
every ``--tick-seconds`` (0 turns it off) and, with ``--life``, plays portal life every that
many seconds (simulator.background). The incoming-webhook token of user 1 comes from
``PORTAL_SIM_WEBHOOK_TOKEN``, else the one the database already has, else a random one;
``serve`` prints the webhook URL either way.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from simulator import background
from simulator.portal import Simulator

# generator parameter -> help (simulator.scenarios.generator.generate has the defaults)
GENERATOR_OPTIONS = {
    "companies": "companies (default 1,000)",
    "contacts_per_company": "contacts per company (default 2)",
    "activities": "activities (default 20,000)",
    "leads": "leads (default 500)",
    "deals": "deals (default 1,000)",
    "tasks": "tasks (default 1,000)",
    "users": "users, the administrator included (default 50)",
    "seed": "random seed of the generator (default 7)",
}


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be an integer >= 0")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be a number of seconds >= 0")
    return value


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
    from simulator.web.control import guard_beyond_loopback

    if bool(args.cert) != bool(args.key):
        print("--cert and --key go together", file=sys.stderr)
        return 2
    scheme = "https" if args.cert else "http"
    sim = _open(args.database, f"{scheme}://{args.host}:{args.port}")
    if args.seed:
        sim.reset()
        print(json.dumps(sim.seed(args.seed), default=str))
    app = create_app(sim)
    control_token = guard_beyond_loopback(app, args.host)
    print(f"Portal:          {sim.portal_url}/", flush=True)
    print(f"Incoming webhook: {sim.webhook_url(1)}", flush=True)
    if control_token:
        print(f"Control token:    {control_token}  (X-Sim-Token header)", flush=True)
    ssl_context: Any = (args.cert, args.key) if args.cert else None
    stop = background.start(sim, tick_seconds=args.tick_seconds, life_seconds=args.life)
    try:
        run_simple(args.host, args.port, app, threaded=True, ssl_context=ssl_context)
    finally:
        stop.set()
    return 0


def seed(args: argparse.Namespace) -> int:
    """Replace the portal's data with the demo portal or a generated one."""
    generator = {name: getattr(args, name) for name in GENERATOR_OPTIONS
                 if getattr(args, name) is not None}
    if args.demo == bool(generator):
        print("give either --demo or generator parameters (--companies, --activities, ...)",
              file=sys.stderr)
        return 2
    sim = _open(args.database)
    sim.reset()
    summary = sim.seed("demo") if args.demo else sim.seed(None, **generator)
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
    serve_cmd.add_argument("--tick-seconds", type=_seconds,
                           default=background.DEFAULT_TICK_SECONDS, metavar="SECONDS",
                           help="run the portal's tick (deadline notices) this often; 0: never")
    serve_cmd.add_argument("--life", type=_seconds, metavar="SECONDS",
                           help="play portal life, one round this often (off by default)")
    serve_cmd.set_defaults(func=serve)

    seed_cmd = commands.add_parser("seed", help="load the demo portal or generate a large one")
    seed_cmd.add_argument("--database")
    seed_cmd.add_argument("--demo", action="store_true")
    for name, help_text in GENERATOR_OPTIONS.items():
        seed_cmd.add_argument(f"--{name.replace('_', '-')}", dest=name, type=_count,
                              metavar="N", help=help_text)
    seed_cmd.set_defaults(func=seed)

    tick_cmd = commands.add_parser("tick", help="run the portal's time-driven work once")
    tick_cmd.add_argument("--database")
    tick_cmd.set_defaults(func=tick)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

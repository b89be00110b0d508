"""How much of the portal's allowed request rate the HTTP transport uses.

The simulator's leaky bucket (X requests of burst, Y per second) is turned on; the extension's
HTTP transport (fast_bitrix24 underneath) is set to the same limits and sends N sequential
calls. Prints JSON: for each rate, the time the bucket makes unavoidable (the floor), the time
taken, the share of the allowed rate achieved (floor / taken: 1.0 is perfect) and how many
503 QUERY_LIMIT_EXCEEDED answers the portal had to give (0 means the client never overran).

    .venv/bin/python bench/throttle.py [--rates 2 5] [--requests 30] [--burst 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.serving import make_server

from portal_ext.portal.client import PortalClient
from portal_ext.portal.transports import HttpTransport
from simulator import Simulator
from simulator.core.ratelimit import limits_for
from simulator.web import create_app


def measure(sim: Simulator, url: str, statuses: Counter[int], *, rate: float, burst: int,
            requests: int) -> dict[str, Any]:
    limits = limits_for(sim)
    limits.reset()
    limits.configure(enabled=True, x=burst, y=rate)
    client = PortalClient(HttpTransport(url, requests_per_second=rate, request_pool_size=burst))
    try:
        client.call("profile")  # connect first: measure the throttle, not the handshake
        refused_before = statuses[503]
        began = time.monotonic()
        for _ in range(requests):
            client.call("user.get", {"FILTER": {"ID": 1}})
        taken = time.monotonic() - began
    finally:
        client.close()
        limits.configure(enabled=False)
    floor = max(requests - (burst - 1), 0) / rate
    return {"rate_per_s": rate, "burst": burst, "requests": requests,
            "floor_s": round(floor, 3), "taken_s": round(taken, 3),
            "share_of_allowed_rate": round(floor / taken, 3) if taken else None,
            "refused_503": statuses[503] - refused_before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[2.0, 5.0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--burst", type=int, default=10)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    statuses: Counter[int] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        sim = Simulator(f"sqlite:///{Path(tmp) / 'sim.db'}", webhook_token="bench")
        sim.seed("demo")
        app = create_app(sim)

        def counting_app(environ: dict[str, Any], start_response: Any) -> Any:
            def start(status: str, headers: Any, *rest: Any) -> Any:
                statuses[int(status.split()[0])] += 1
                return start_response(status, headers, *rest)
            return app(environ, start)

        server = make_server("127.0.0.1", 0, counting_app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/rest/1/bench/"
        try:
            runs = [measure(sim, url, statuses, rate=rate, burst=args.burst,
                            requests=args.requests) for rate in args.rates]
        finally:
            server.shutdown()
            sim.engine.dispose()
    print(json.dumps({"benchmark": "throttle", "machine_cores": 2, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()

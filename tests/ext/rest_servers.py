"""The portal and the extension each on their own HTTP server, as with a cloud portal: the
extension in REST mode reaches the simulated portal through its incoming webhook, and the
portal knows the extension as an OAuth application (its callback on the extension's server),
so a person can log in through the portal's own form and the portal can post the install
event, robot calls and event webhooks to the extension's endpoints."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from portal_ext import create_app
from portal_ext.extensions import db
from portal_ext.portal.registration import close_clients
from simulator import Simulator
from simulator.web import create_app as create_simulator_app

CLIENT_ID, CLIENT_SECRET = "portal-ext", "app-secret-for-tests"


@dataclass
class Served:
    app: Flask
    sim: Simulator
    portal_url: str
    ext_url: str


def _serve(app: Any) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@contextmanager
def served_apart(sim: Simulator, database_url: str, **config: Any) -> Iterator[Served]:
    """Serve ``sim`` and a REST-mode extension on two loopback ports; ``config`` adds to (or
    overrides) the extension's settings."""
    portal_server, portal_thread = _serve(create_simulator_app(sim))
    portal_url = f"http://127.0.0.1:{portal_server.server_port}"
    sim.portal_url = portal_url
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "PORTAL_MODE": "rest",
        "PORTAL_URL": portal_url, "PORTAL_WEBHOOK_URL": f"{portal_url}/rest/1/testtoken/",
        "PORTAL_APPLICATION_TOKEN": sim.application_token,
        "PORTAL_MEMBER_ID": sim.member_id, "TASK_RUNNER": "inline",
        "OAUTH_CLIENT_ID": CLIENT_ID, "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        # The simulator does not limit this webhook: no need to hold back.
        "PORTAL_RATE_POOL": 10_000, "PORTAL_RATE_PER_SECOND": 10_000.0, **config})
    ext_server, ext_thread = _serve(app)
    ext_url = f"http://127.0.0.1:{ext_server.server_port}"
    app.config["EXTENSION_URL"] = ext_url  # the links it writes into the portal
    sim.register_app(CLIENT_ID, CLIENT_SECRET, f"{ext_url}/auth/callback", name="Cover")
    try:
        yield Served(app, sim, portal_url, ext_url)
    finally:
        for server, thread in ((ext_server, ext_thread), (portal_server, portal_thread)):
            server.shutdown()
            thread.join(10)
            server.server_close()
        close_clients(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

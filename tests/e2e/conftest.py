"""A live server for browser tests: the composition root's wiring (extension + simulated demo
portal, one WSGI app) served by werkzeug on a random loopback port, in a thread.

Production-like on purpose: CSRF is on, the OAuth code exchange is a real HTTP request from
the extension back to the portal's /oauth/token/ on the same server (hence a threaded server),
and the extension's database is migrated with the project's Alembic migrations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from portal_ext.app import MIGRATIONS_DIR
from portal_ext.directory.services import sync_directory
from portal_ext.events.bindings import ensure_bindings
from portal_ext.extensions import db
from portal_ext.notifications.handlers import REST_EVENTS
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import client_for, close_clients, current_portal
from simulator import Simulator
from tests.ext.rest_servers import served_apart
from wsgi import wire_simulated


@dataclass
class LiveServer:
    url: str
    app: Flask
    sim: Simulator


@dataclass
class RestLiveServer(LiveServer):
    """The extension at ``url`` in REST mode; the portal on its own server at ``portal_url``."""

    portal_url: str


class _Deferred:
    """The server binds its port first; the app, which must know its URL, comes after."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


@pytest.fixture
def live_server(demo_sim: Simulator, tmp_path: Path) -> Iterator[LiveServer]:
    deferred = _Deferred()
    server = make_server("127.0.0.1", 0, deferred, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    demo_sim.portal_url = url
    app = wire_simulated(demo_sim, {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ext.db'}", "TASK_RUNNER": "inline",
        "SECRET_KEY": "browser-test-secret"})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        portal = current_portal()
        sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())
    deferred.app = app
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=url, app=app, sim=demo_sim)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        close_clients(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def rest_live_server(demo_sim: Simulator, tmp_path: Path) -> Iterator[RestLiveServer]:
    """The portal and the extension each on their own HTTP server (tests/ext/rest_servers.py),
    production-like as above: the extension calls the portal through its incoming webhook,
    hears its events on ``/events/webhook`` (bound over REST) and logs people in through the
    portal's OAuth form."""
    with served_apart(demo_sim, f"sqlite:///{tmp_path / 'ext.db'}", TESTING=False,
                      SECRET_KEY="browser-test-secret") as served:
        with served.app.app_context():
            upgrade(directory=str(MIGRATIONS_DIR))
            portal = current_portal()
            client = client_for(portal)
            sync_directory(portal=portal, client=client, now=host_utcnow())
            ensure_bindings(client, f"{served.ext_url}/events/webhook", REST_EVENTS)
        yield RestLiveServer(url=served.ext_url, app=served.app, sim=demo_sim,
                             portal_url=served.portal_url)

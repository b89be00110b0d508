"""The composition root: the only module that knows both the extension and the simulator.

Mode ``simulated`` (default, ``PORTAL_EXT_PORTAL_MODE``): a simulated portal
(``PORTAL_SIM_DATABASE_URL``, default SQLite ``instance/simulator.db``) and the extension share
one WSGI app. The extension calls the portal in-process (the portal's errors become
PortalError), receives its events in-process (before-events may veto), and is registered in
the portal as a local OAuth application, whose client id, secret and application token are its
registration. ``/portal``, ``/rest``, ``/_sim`` and ``/oauth`` go to the simulator, everything
else to the extension, paths unchanged.

The portal's address (its links, the webhook URL, the OAuth application's redirect URI) is set
by the server that serves it: ``flask --app wsgi demo`` from its ``--host`` and ``--port``, any
other server (gunicorn, ``flask run``) from ``PORTAL_EXT_PORTAL_URL`` when it answers its first
request. Other commands (``flask --app wsgi token create`` ...) leave it alone, so they can run
beside a server on another port.

Mode ``rest``: only the extension, calling the portal at ``PORTAL_EXT_PORTAL_WEBHOOK_URL``.

Exposes ``app`` (the extension's Flask app serving both: ``flask --app wsgi ...``, gunicorn
``wsgi:app``), ``celery`` (``celery -A wsgi.celery worker|beat``) and ``sim`` (None in rest mode).
In simulated mode the OAuth code exchange calls the portal over HTTP on the same server, so
serve with more than one thread (``flask run`` is threaded; gunicorn ``--threads 4``).
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask

from portal_ext import create_app
from portal_ext.celery_app import init_celery
from portal_ext.portal.errors import PortalError

ROOT = Path(__file__).resolve().parent
SIMULATOR_PREFIXES = ("/portal", "/rest", "/_sim", "/oauth")
DEFAULT_URL = "http://127.0.0.1:5000"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PathDispatcher:
    """Sends requests under ``prefixes`` to ``mounted``, the rest to ``default``."""

    def __init__(self, default: WSGIApp, mounted: WSGIApp, prefixes: Iterable[str]) -> None:
        self.default = default
        self.mounted = mounted
        self.prefixes = tuple(prefixes)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if any(path == p or path.startswith(p + "/") for p in self.prefixes):
            return self.mounted(environ, start_response)
        return self.default(environ, start_response)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


def build_simulated() -> tuple[Flask, Any]:
    from simulator import Simulator

    portal_url = _env("PORTAL_EXT_PORTAL_URL", DEFAULT_URL).rstrip("/")
    (ROOT / "instance").mkdir(exist_ok=True)
    default_db = f"sqlite:///{ROOT / 'instance' / 'simulator.db'}"
    simulated = Simulator(_env("PORTAL_SIM_DATABASE_URL", default_db), portal_url=portal_url)
    return wire_simulated(simulated, serve=False), simulated


def simulator_dispatch(simulated: Any) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """The in-process transport's callable: the portal's dispatcher as the webhook owner (the
    administrator, user 1), its errors turned into the extension's PortalError."""
    from simulator import SimError

    def dispatch(method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            envelope: dict[str, Any] = simulated.call(method, params, user_id=1)
        except SimError as error:
            raise PortalError(error.code, error.description, error.status) from error
        return envelope

    return dispatch


def wire_simulated(simulated: Any, config: dict[str, Any] | None = None, *,
                   serve: bool = True) -> Flask:
    """The extension app for the simulated portal ``simulated``: in-process calls and events,
    with the portal's URLs mounted.

    ``serve``: the portal is served at ``simulated.portal_url`` now (:func:`serve_portal_at`);
    otherwise when the app answers its first request, unless a server (the demo) said where
    before. A command that serves nothing never changes the portal's address."""
    from portal_ext.events import Veto, inprocess_subscribers
    from portal_ext.events.handlers import before_handlers_for
    from simulator import Veto as SimVeto
    from simulator.web import create_app as create_simulator_app

    portal_url = simulated.portal_url
    client_id = _env("PORTAL_EXT_OAUTH_CLIENT_ID", "portal-ext")
    client_secret = _env("PORTAL_EXT_OAUTH_CLIENT_SECRET") or _stored_secret(simulated)
    # The address settings stay empty until the portal is served, so that a command does not
    # write its own idea of the address into the extension's portal row.
    flask_app = create_app({
        "PORTAL_MODE": "simulated", "PORTAL_URL": "", "PORTAL_WEBHOOK_URL": "",
        "PORTAL_APPLICATION_TOKEN": simulated.application_token,
        "PORTAL_MEMBER_ID": simulated.member_id,
        "OAUTH_CLIENT_ID": client_id, "OAUTH_CLIENT_SECRET": client_secret,
        **(config or {}), "PORTAL_DISPATCH": simulator_dispatch(simulated),
    })

    before, after = inprocess_subscribers(flask_app)

    def on_before(event: Any) -> None:
        if not before_handlers_for(event.name):
            return  # nothing to ask: the item's shapes need not even be worked out
        try:
            before(event.as_dict())
        except Veto as veto:
            raise SimVeto(veto.message) from veto

    def on_after(event: Any) -> None:
        after(event.as_dict())

    simulated.bus.subscribe_before(on_before)
    simulated.bus.subscribe_after(on_after)
    flask_app.extensions["simulator"] = simulated
    simulator_app = create_simulator_app(simulated)
    flask_app.extensions["simulator_web"] = simulator_app
    dispatcher = PathDispatcher(flask_app.wsgi_app, simulator_app, SIMULATOR_PREFIXES)
    if serve:
        serve_portal_at(flask_app, portal_url)
        flask_app.wsgi_app = dispatcher  # type: ignore[method-assign]
    else:
        flask_app.wsgi_app = ServeOnFirstRequest(  # type: ignore[method-assign]
            flask_app, dispatcher, portal_url)
    return flask_app


def serve_portal_at(flask_app: Flask, portal_url: str) -> None:
    """The simulated portal is served at ``portal_url``: its own links and webhook URL, the
    extension's portal settings, and its OAuth application's redirect URI follow."""
    from portal_ext.portal.registration import reload_portal_settings

    simulated = flask_app.extensions["simulator"]
    portal_url = portal_url.rstrip("/")
    simulated.portal_url = portal_url
    simulated.register_app(flask_app.config["OAUTH_CLIENT_ID"],
                           flask_app.config["OAUTH_CLIENT_SECRET"],
                           f"{portal_url}/auth/callback", name="Cover")
    flask_app.config["PORTAL_URL"] = portal_url
    flask_app.config["PORTAL_WEBHOOK_URL"] = simulated.webhook_url(1)
    reload_portal_settings(flask_app)
    flask_app.extensions[SERVED_AT] = portal_url


SERVED_AT = "simulated_portal_served_at"


class ServeOnFirstRequest:
    """A server (gunicorn ``wsgi:app``, ``flask run``) serves the portal at the configured
    address: registered when the first request arrives, unless a server already set one."""

    def __init__(self, flask_app: Flask, wrapped: WSGIApp, portal_url: str) -> None:
        self.flask_app = flask_app
        self.wrapped = wrapped
        self.portal_url = portal_url
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if SERVED_AT not in self.flask_app.extensions:
            with self.lock:
                if SERVED_AT not in self.flask_app.extensions:
                    serve_portal_at(self.flask_app, self.portal_url)
        return self.wrapped(environ, start_response)


def _stored_secret(sim: Any) -> str:
    """The OAuth client secret, made once and kept with the simulated portal."""
    secret = sim.settings.get("extension_client_secret")
    if not secret:
        secret = secrets.token_urlsafe(24)
        sim.settings.set("extension_client_secret", secret)
    return str(secret)


def build() -> tuple[Flask, Any, Any]:
    mode = _env("PORTAL_EXT_PORTAL_MODE", "simulated")
    if mode == "simulated":
        flask_app, simulated = build_simulated()
        from demo import demo_command

        flask_app.cli.add_command(demo_command)
    elif mode == "rest":
        flask_app, simulated = create_app({"PORTAL_MODE": "rest"}), None
    else:
        raise SystemExit(f"PORTAL_EXT_PORTAL_MODE must be simulated or rest, not {mode!r}")
    celery_app = flask_app.extensions.get("celery") or init_celery(flask_app)
    _dispose_engines_after_fork(flask_app, simulated)
    return flask_app, celery_app, simulated


def _dispose_engines_after_fork(flask_app: Flask, simulated: Any) -> None:
    """Celery's prefork children must not reuse the parent's pooled connections (SQLAlchemy
    "Using Connection Pools with Multiprocessing")."""
    from celery.signals import worker_process_init

    from portal_ext.extensions import db

    def dispose(**_kwargs: Any) -> None:
        with flask_app.app_context():
            db.engine.dispose(close=False)
        if simulated is not None:
            simulated.engine.dispose(close=False)

    worker_process_init.connect(dispose, weak=False)


_BUILT: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``app``, ``celery`` and ``sim`` are built on first use, so importing this module (tests
    use :func:`wire_simulated`) opens no database."""
    if name not in ("app", "celery", "sim"):
        raise AttributeError(name)
    if not _BUILT:
        _BUILT["app"], _BUILT["celery"], _BUILT["sim"] = build()
    return _BUILT[name]

"""The composition root: the only module that knows both the extension and the simulator.

Mode ``simulated`` (default, ``PORTAL_EXT_PORTAL_MODE``): a simulated portal
(``PORTAL_SIM_DATABASE_URL``, default SQLite ``instance/simulator.db``) and the extension share
one WSGI app. The extension calls the portal in-process (the portal's errors become
PortalError), receives its events in-process (before-events may veto), and is registered in
the portal as a local OAuth application, whose client id, secret and application token are its
registration. ``/portal``, ``/rest``, ``/_sim`` and ``/oauth`` go to the simulator, everything
else to the extension, paths unchanged.

Mode ``rest``: only the extension, calling the portal at ``PORTAL_EXT_PORTAL_WEBHOOK_URL``.

Exposes ``app`` (the extension's Flask app serving both: ``flask --app wsgi ...``, gunicorn
``wsgi:app``), ``celery`` (``celery -A wsgi.celery worker|beat``) and ``sim`` (None in rest mode).
In simulated mode the OAuth code exchange calls the portal over HTTP on the same server, so
serve with more than one thread (``flask run`` is threaded; gunicorn ``--threads 4``).
"""

from __future__ import annotations

import os
import secrets
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
    return wire_simulated(simulated), simulated


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


def wire_simulated(simulated: Any, config: dict[str, Any] | None = None) -> Flask:
    """The extension app for the simulated portal ``simulated``: in-process calls and events,
    registered as the portal's OAuth application, with the portal's URLs mounted."""
    from portal_ext.events import Veto, inprocess_subscribers
    from portal_ext.events.handlers import before_handlers_for
    from simulator import Veto as SimVeto
    from simulator.web import create_app as create_simulator_app

    portal_url = simulated.portal_url
    client_id = _env("PORTAL_EXT_OAUTH_CLIENT_ID", "portal-ext")
    client_secret = _env("PORTAL_EXT_OAUTH_CLIENT_SECRET") or _stored_secret(simulated)
    application_token = simulated.register_app(client_id, client_secret,
                                               f"{portal_url}/auth/callback", name="Cover")
    flask_app = create_app({
        "PORTAL_MODE": "simulated", "PORTAL_URL": portal_url,
        "PORTAL_WEBHOOK_URL": simulated.webhook_url(1),
        "PORTAL_APPLICATION_TOKEN": application_token, "PORTAL_MEMBER_ID": simulated.member_id,
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
    flask_app.wsgi_app = PathDispatcher(  # type: ignore[method-assign]
        flask_app.wsgi_app, create_simulator_app(simulated), SIMULATOR_PREFIXES)
    return flask_app


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

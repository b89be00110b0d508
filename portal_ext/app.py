"""The app factory's wiring: settings, database, extensions, event intake, jobs, web modules."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event

from portal_ext.config import BaseConfig, TestConfig, settings_from

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "migrations"
# Web modules (pages, login, API) wire themselves in with ``init_app(app)`` when installed.
WEB_MODULES: tuple[str, ...] = ("portal_ext.auth", "portal_ext.blueprints", "portal_ext.charts")


def build_app(config: dict[str, Any] | None = None) -> Flask:
    overrides = dict(config or {})
    base = TestConfig if overrides.get("TESTING") else BaseConfig
    app = Flask("portal_ext", instance_relative_config=True,
                instance_path=str(ROOT / "instance"))
    app.config.update(settings_from(base, overrides=overrides))
    _configure_secret_key(app)
    _configure_database(app)

    from portal_ext import request_bounds
    from portal_ext.extensions import csrf, db, login_manager, migrate
    from portal_ext.models import import_models

    import_models()
    db.init_app(app)
    with app.app_context():
        _tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    request_bounds.init_app(app)
    _init_babel(app)

    from portal_ext import cli, jobs
    from portal_ext.events import handlers, webhook
    from portal_ext.tasks import load_job_modules

    jobs.init_app(app)
    load_job_modules()
    handlers.load_handler_modules()
    app.register_blueprint(webhook.bp)
    csrf.exempt(webhook.bp)
    cli.init_app(app)
    for name in _split(app.config.get("EXTRA_MODULES", "")):
        importlib.import_module(name)
    for name in WEB_MODULES:
        module = _optional_module(name)
        if module is not None and hasattr(module, "init_app"):
            module.init_app(app)
    if app.config["TASK_RUNNER"] == "celery":
        from portal_ext.celery_app import init_celery

        init_celery(app)
    return app


def _configure_secret_key(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    path = Path(app.instance_path) / "secret_key"
    os.makedirs(app.instance_path, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    app.config["SECRET_KEY"] = path.read_text().strip()


def _configure_database(app: Flask) -> None:
    url = app.config.get("DATABASE_URL")
    if not url:
        os.makedirs(app.instance_path, exist_ok=True)
        url = f"sqlite:///{Path(app.instance_path) / 'ext.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options: dict[str, Any] = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        # The embedded worker thread and the web threads share the file: wait for the lock.
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _tune_sqlite(engine: Any) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _init_babel(app: Flask) -> None:
    module = _optional_module("portal_ext.i18n")
    if module is not None:
        module.init_app(app)
    else:
        from portal_ext.extensions import babel

        babel.init_app(app)


def _optional_module(name: str) -> Any:
    try:
        found = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        found = None
    return importlib.import_module(name) if found is not None else None


def _split(value: str) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]

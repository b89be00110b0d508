"""Fixtures for the extension's tests.

# ============================================================================================
# Section 1: the extension wired to a simulated portal (app, client, portal_client)
# ============================================================================================

``app`` is the composition root's wiring (wsgi.wire_simulated) around the demo portal: calls
and events in-process, TASK_RUNNER inline, the directory synced. Its database is a copy of one
migrated by the project's Alembic migrations (SQLite), or, when PORTAL_EXT_TEST_DATABASE_URL is
set, that PostgreSQL database migrated once per session and emptied before each test.

"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text

from portal_ext import create_app
from portal_ext.app import MIGRATIONS_DIR
from portal_ext.directory.services import sync_directory
from portal_ext.extensions import db
from portal_ext.models import import_models
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import client_for, close_clients, current_portal
from simulator import Simulator
from tests.clock import TestClock
from tests.conftest import TEST_DATABASE_URL
from tests.ext.absences_support import ADMIN, freeze, start_of_hour, token
from tests.ext.wsgi_http import wsgi_session
from wsgi import wire_simulated


def extension_tables() -> list[str]:
    """Every table of the extension's models (each package's models included)."""
    import_models()
    return [table.name for table in db.metadata.sorted_tables]


def migrate_database(url: str) -> None:
    """Bring the database at ``url`` to the newest migration (what ``flask db upgrade`` does)."""
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        db.engine.dispose()


def drop_extension_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        for table in (*reversed(extension_tables()), "alembic_version"):
            if table in existing:
                conn.execute(text(f'DROP TABLE "{table}" CASCADE'))
    engine.dispose()


def empty_extension_tables(url: str) -> None:
    """Empty every extension table and start its ids again at 1, as a fresh copy would: DELETE
    (the tables hold a test's few rows) rather than TRUNCATE, which rewrites every table's
    files and takes about a second for all of them."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in reversed(extension_tables()):
            conn.execute(text(f'DELETE FROM "{table}"'))
        conn.execute(text("SELECT setval(s, 1, false) FROM unnest(CAST(:s AS text[])) AS s"),
                     {"s": list(_id_sequences(url))})
    engine.dispose()


@functools.cache
def _id_sequences(url: str) -> tuple[str, ...]:
    """The extension tables' id sequences (asked once per test process: the schema is fixed)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = tuple(
            sequence for table in db.metadata.sorted_tables
            for column in table.primary_key.columns
            if (sequence := conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                        {"t": table.name, "c": column.name})))
    engine.dispose()
    return found


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file to copy (SQLite), or the migrated PostgreSQL URL."""
    if TEST_DATABASE_URL:
        drop_extension_tables(TEST_DATABASE_URL)
        migrate_database(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    path = tmp_path_factory.mktemp("ext-template") / "ext.db"
    migrate_database(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def ext_database_url(migrated_template: str, tmp_path: Path) -> str:
    """A fresh, migrated, empty extension database for one test."""
    if TEST_DATABASE_URL:
        empty_extension_tables(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    target = tmp_path / "ext.db"
    shutil.copyfile(migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def monday(test_clock: TestClock) -> datetime:
    """The next Monday after the demo's today, 10:00 portal time (naive UTC): the first day of
    the week-long absences the fan-out tests record."""
    return test_clock.at(test_clock.next_weekday(0, after=1), 10)


Day = Callable[[int], str]


@pytest.fixture
def t0(demo_sim: Simulator, client: FlaskClient) -> datetime:
    """The portal's clock frozen on the current whole hour (naive UTC), set the way a tester
    does it: ``POST /_sim/clock``."""
    moment = start_of_hour(demo_sim)
    freeze(client, moment)
    return moment


@pytest.fixture
def admin(app: Flask) -> dict[str, str]:
    """An ``Authorization`` header with a fresh API token of the portal's administrator."""
    return token(app, ADMIN)


@pytest.fixture
def day(test_clock: TestClock) -> Day:
    """``day(35)``: the ISO date (``YYYY-MM-DD``) 35 days after the demo's today."""
    return lambda offset: test_clock.day(offset).isoformat()


def build_app(sim: Simulator, database_url: str, **config: Any) -> Flask:
    flask_app = wire_simulated(sim, {"TESTING": True, "DATABASE_URL": database_url, **config})
    # Server-to-server calls (OAuth code exchange) reach the portal's own HTTP endpoints.
    flask_app.config["PORTAL_HTTP_SESSION"] = wsgi_session(sim.portal_url, flask_app)
    return flask_app


def dispose_app(flask_app: Flask) -> None:
    close_clients(flask_app)
    with flask_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def bare_app(demo_sim: Simulator, ext_database_url: str) -> Iterator[Flask]:
    """The extension wired to the demo portal, its own database still empty."""
    flask_app = build_app(demo_sim, ext_database_url)
    yield flask_app
    dispose_app(flask_app)


@pytest.fixture
def app(demo_sim: Simulator, ext_database_url: str) -> Iterator[Flask]:
    """The extension wired to the demo portal, its directory synced."""
    flask_app = build_app(demo_sim, ext_database_url)
    with flask_app.app_context():
        portal = current_portal()
        sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())
    yield flask_app
    dispose_app(flask_app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def portal_client(app: Flask) -> Iterator[PortalClient]:
    """The extension's client for its portal (in-process transport)."""
    with app.app_context():
        yield client_for(current_portal())

# ============================================================================================
# End of section 1
# ============================================================================================


# ============================================================================================
# Section 2: logging in through the portal's OAuth (login_as)
# ============================================================================================

@pytest.fixture(autouse=True)
def _push_request_context() -> None:
    """Overrides pytest-flask's autouse fixture of the same name, which pushes one request
    context around every test using ``app``. Requests made with the test client would then
    share that context's ``g`` and database session: the logged-in user (Flask-Login caches it
    in ``g``) and the language (Flask-Babel caches it on the context) would carry over from one
    request to the next, which never happens to a real browser. Tests that need a context open
    one with ``app.app_context()``."""
    return None


@pytest.fixture
def login_as(app: Flask) -> Any:
    """``login_as(client, email, password="demo")`` logs ``client`` in through the real OAuth
    flow (tests/ext/oauth_login.py) and returns the extension's callback response.

    The test client's host is set to the portal's (``SERVER_NAME``) before the test makes a
    request: the portal sends the code only to the redirect URI registered for the extension,
    which is on the portal's host in simulated mode, and cookies stay on one host."""
    from urllib.parse import urlsplit

    from tests.ext.oauth_login import oauth_login

    app.config["SERVER_NAME"] = urlsplit(app.config["PORTAL_URL"]).netloc

    def login(client: FlaskClient, email: str, password: str = "demo",
              next_url: str | None = None) -> Any:
        response = oauth_login(client, email, password, next_url=next_url)
        assert response.status_code == 302, (
            f"login of {email} failed: {response.status_code} {response.get_data(as_text=True)}")
        return response

    return login

# ============================================================================================
# End of section 2
# ============================================================================================

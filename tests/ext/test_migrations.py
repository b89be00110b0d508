"""The migrations build exactly the schema the models describe, on SQLite and (in the
PostgreSQL tier) on PostgreSQL: a fresh database upgraded to head shows no difference."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade
from sqlalchemy import create_engine, inspect

from portal_ext import create_app
from portal_ext.app import MIGRATIONS_DIR
from portal_ext.extensions import db
from portal_ext.models import import_models
from tests.conftest import TEST_DATABASE_URL
from tests.ext.conftest import drop_extension_tables, migrate_database


def schema_differences(url: str) -> list[object]:
    import_models()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parents: not (
                    kind == "table" and (name or "").startswith(("sim_", "test_")))})
            return list(compare_metadata(context, db.metadata))
    finally:
        engine.dispose()


def test_a_fresh_database_upgraded_to_head_matches_the_models(tmp_path: Path) -> None:
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'fresh.db'}"
    if TEST_DATABASE_URL:
        drop_extension_tables(url)
    migrate_database(url)
    assert schema_differences(url) == []
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert {"portal", "portal_user", "department", "api_token", "inbox_event"} <= tables


def test_the_migrations_downgrade_to_nothing_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    migrate_database(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    with app.app_context():
        downgrade(directory=str(MIGRATIONS_DIR), revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()
    migrate_database(url)
    assert schema_differences(url) == []

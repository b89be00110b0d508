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


def test_handovers_of_deleted_absences_are_settled_by_the_upgrade(tmp_path: Path) -> None:
    """Databases from before the foreign key may hold handovers of deleted absences: the
    preview goes (with its journal), the others forget the absence."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'orphans.db'}"
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision="0005_transfers")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO portal (id, name, mode, base_url, created_at) "
                              "VALUES (1, 'p', 'simulated', '', CURRENT_TIMESTAMP)"))
            for batch_id, state in ((1, "preview"), (2, "applied"), (3, "restored")):
                conn.execute(text(
                    "INSERT INTO move_batch (id, portal_id, kind, state, owner_id, absence_id, "
                    "live_key, options, created_at, counts) VALUES (:id, 1, 'handover', "
                    ":state, 5, 77, :key, '{}', CURRENT_TIMESTAMP, '{}')"),
                    {"id": batch_id, "state": state,
                     "key": None if state == "restored" else f"absence:77:{batch_id}"})
                conn.execute(text(
                    "INSERT INTO move_item (portal_id, batch_id, entity_type, entity_id, "
                    "from_user_id, to_user_id, state) VALUES (1, :id, 'deal', 1, 5, 6, "
                    "'planned')"), {"id": batch_id})
        upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.connect() as conn:
            batches = conn.execute(text(
                "SELECT id, absence_id, live_key FROM move_batch ORDER BY id")).all()
            items = conn.execute(text("SELECT batch_id FROM move_item ORDER BY batch_id"))
            assert [tuple(b) for b in batches] == [(2, None, None), (3, None, None)]
            assert [i[0] for i in items] == [2, 3]
        db.engine.dispose()

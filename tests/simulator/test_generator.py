"""The large-portal generator: exact counts, the storage conventions, the same seed giving the
same portal. Sizes here are small; bench/generate.py measures the large ones."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from simulator import SimError, Simulator
from simulator.crm import tables as crm_tables
from simulator.scenarios.generator import generate
from simulator.tasks import tables as tasks_tables
from simulator.users import tables as users_tables

C, A, B = crm_tables.crm_items, crm_tables.activities, crm_tables.activity_bindings
SMALL = {"companies": 30, "contacts_per_company": 2, "activities": 400, "leads": 20,
         "deals": 25, "tasks": 15, "users": 14, "progress": False}


def scalar(sim: Simulator, stmt: Any) -> Any:
    with sim.engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def by_type(sim: Simulator, type_id: int) -> int:
    return int(scalar(sim, select(func.count()).select_from(C)
                      .where(C.c.entity_type_id == type_id)))


def test_small_portal_has_exactly_what_was_asked(sim: Simulator) -> None:
    summary = generate(sim, **SMALL)  # type: ignore[arg-type]
    assert (by_type(sim, 4), by_type(sim, 3), by_type(sim, 1), by_type(sim, 2)) == (30, 60, 20, 25)
    assert scalar(sim, select(func.count()).select_from(A)) == 400
    assert scalar(sim, select(func.count()).select_from(tasks_tables.tasks)) == 15
    assert scalar(sim, select(func.count()).select_from(users_tables.users)) == 14
    bindings = scalar(sim, select(func.count()).select_from(B))
    assert summary["activity_bindings"] == bindings >= 400
    assert summary["companies"] == 30 and summary["activities"] == 400
    assert summary["seconds"] >= 0


def test_generated_rows_follow_the_storage_conventions(sim: Simulator) -> None:
    generate(sim, **SMALL)  # type: ignore[arg-type]
    with sim.engine.connect() as conn:
        companies = conn.execute(select(C).where(C.c.entity_type_id == 4)).all()
        calls = conn.execute(select(A).where(A.c.type_id == 2)).all()
        orphans = conn.execute(select(func.count()).select_from(A).where(
            ~select(B.c.activity_id).where(B.c.activity_id == A.c.id,
                                           B.c.owner_type_id == A.c.owner_type_id,
                                           B.c.owner_id == A.c.owner_id).exists())).scalar_one()
        admin = conn.execute(select(users_tables.users).where(users_tables.users.c.id == 1)).one()
        deals = conn.execute(select(C).where(C.c.entity_type_id == 2)).all()
        heads = conn.execute(select(users_tables.departments.c.head)).scalars().all()
    assert {c.fields["UF_CRM_CATEGORY"] for c in companies} <= {"1", "2", "3"}
    assert orphans == 0
    outcomes = {c.fields["SETTINGS"].get("CALL_FAILED_CODE") for c in calls if c.completed}
    assert "200" in outcomes and len(outcomes) >= 3
    assert admin.is_admin and admin.email == "admin@demo.portal"
    assert all(d.closed == d.stage_id.endswith(("WON", "LOSE")) for d in deals)
    assert all(heads)


def dump(sim: Simulator) -> list[tuple[Any, ...]]:
    with sim.engine.connect() as conn:
        items = conn.execute(select(C.c.id, C.c.title, C.c.assigned_by_id, C.c.stage_id,
                                    C.c.fields).order_by(C.c.id)).all()
        acts = conn.execute(select(A.c.id, A.c.owner_type_id, A.c.owner_id, A.c.subject,
                                   A.c.start_time, A.c.fields).order_by(A.c.id)).all()
        T = tasks_tables.tasks
        tasks = conn.execute(select(T.c.id, T.c.title, T.c.deadline).order_by(T.c.id)).all()
    return [tuple(r) for r in [*items, *acts, *tasks]]


def test_the_same_seed_gives_the_same_portal(sim: Simulator, tmp_path: Path) -> None:
    moment = datetime(2026, 5, 20, 8, 0)
    portals = [sim] + [Simulator(f"sqlite:///{tmp_path / f'p{n}.db'}") for n in (1, 2)]
    try:
        for portal, seed in zip(portals, (7, 7, 8), strict=True):
            portal.clock.set(moment)
            generate(portal, **{**SMALL, "seed": seed})  # type: ignore[arg-type]
        assert dump(portals[0]) == dump(portals[1])
        assert dump(portals[0]) != dump(portals[2])
    finally:
        for portal in portals[1:]:
            portal.engine.dispose()


def test_the_portal_keeps_working_after_generation(sim: Simulator) -> None:
    """Seeded ids must not collide with what the REST API adds next (PostgreSQL keeps a
    sequence per table)."""
    generate(sim, **SMALL)  # type: ignore[arg-type]
    highest = scalar(sim, select(func.max(C.c.id)))
    lead_id = sim.call("crm.lead.add", {"fields": {"TITLE": "После генерации",
                                                   "ASSIGNED_BY_ID": 5}})["result"]
    assert int(lead_id) > highest
    task = sim.call("tasks.task.add", {"fields": {"TITLE": "Проверка", "RESPONSIBLE_ID": 5}})
    assert int(task["result"]["task"]["id"]) == 16


def test_only_leads_when_there_are_no_companies(sim: Simulator) -> None:
    summary = generate(sim, companies=0, activities=50, leads=5, deals=10, tasks=3, users=3,
                       progress=False)
    assert summary["deals"] == 0 and by_type(sim, 2) == 0
    with sim.engine.connect() as conn:
        owners = set(conn.execute(select(A.c.owner_type_id)).scalars())
    assert owners == {1}


def test_bad_sizes_and_a_non_empty_portal_are_refused(sim: Simulator) -> None:
    with pytest.raises(SimError) as bad:
        generate(sim, companies=-1, progress=False)
    assert "companies" in bad.value.description
    with pytest.raises(SimError):
        generate(sim, users=0, progress=False)
    assert scalar(sim, select(func.count()).select_from(users_tables.users)) == 0
    generate(sim, **SMALL)  # type: ignore[arg-type]
    with pytest.raises(SimError) as again:
        generate(sim, **SMALL)  # type: ignore[arg-type]
    assert again.value.code == "PORTAL_NOT_EMPTY"
    assert by_type(sim, 4) == 30


def test_generated_deals_use_listed_pipelines_and_emails_keep_their_start_as_deadline(
        sim: Simulator) -> None:
    generate(sim, **SMALL)  # type: ignore[arg-type]
    pipelines = sim.call("crm.category.list", {"entityTypeId": 2})["result"]["categories"]
    assert [c["id"] for c in pipelines] == [0, 1]
    deals = sim.call("crm.deal.list", {"select": ["CATEGORY_ID"]})["result"]
    assert {d["CATEGORY_ID"] for d in deals} <= {"0", "1"}
    emails = sim.call("crm.activity.list", {"filter": {"TYPE_ID": 4},
                                            "select": ["START_TIME", "END_TIME", "DEADLINE"]})
    assert emails["total"] > 0
    assert all(e["DEADLINE"] == e["START_TIME"] for e in emails["result"])
    assert any(e["END_TIME"] != e["START_TIME"] for e in emails["result"])  # it matters

"""Property: for any client base and any interference while the owner is away, a handover
followed by its restore leaves every item nobody touched with its owner and every item
someone touched as that person left it (reassigned: with whoever has it; deleted: gone), and
never moves anyone else's items (reliability.md §5: ``restore(reassign(S)) == S`` for
untouched records).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from bench import handover_workload as wl
from portal_ext import create_app
from portal_ext.extensions import db
from portal_ext.portal.registration import close_clients
from simulator import Simulator
from simulator.crm import tables as crm_tables
from simulator.tasks import tables as tasks_tables
from tests.ext.handover_support import journal, new_batch, run_phase
from wsgi import simulator_dispatch

OWNER, DEPUTY, THIRD, FOURTH = 3, 4, 5, 6
TYPES = list(wl.MIX)
DELETE = {"lead": ("crm.lead.delete", "id", {}), "deal": ("crm.deal.delete", "id", {}),
          "contact": ("crm.contact.delete", "id", {}),
          "company": ("crm.company.delete", "id", {}),
          "quote": ("crm.quote.delete", "id", {}),
          "smart_invoice": ("crm.item.delete", "id", {"entityTypeId": 31}),
          "activity": ("crm.activity.delete", "id", {}),
          "task": ("tasks.task.delete", "taskId", {})}
UPDATE = {"smart_invoice": ("crm.item.update", "id", {"entityTypeId": 31}, "assignedById"),
          "activity": ("crm.activity.update", "id", {}, "RESPONSIBLE_ID"),
          "task": ("tasks.task.update", "taskId", {}, "RESPONSIBLE_ID")}


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    wl.empty_portal(sim)
    return sim


@pytest.fixture
def engine_app(portal: Simulator, ext_database_url: str) -> Iterator[Flask]:
    flask_app = create_app({"TESTING": True, "DATABASE_URL": ext_database_url,
                            "PORTAL_DISPATCH": simulator_dispatch(portal)})
    with flask_app.app_context():
        yield flask_app
        close_clients(flask_app)
        db.session.remove()
        db.engine.dispose()


def reassign(sim: Simulator, kind: str, item_id: int, to: int) -> None:
    method, id_name, base, field = UPDATE.get(
        kind, (f"crm.{kind}.update", "id", {}, "ASSIGNED_BY_ID"))
    sim.call(method, {**base, id_name: item_id, "fields": {field: to}})


def remove(sim: Simulator, kind: str, item_id: int) -> None:
    method, id_name, base = DELETE[kind]
    sim.call(method, {**base, id_name: item_id})


def clear_clients(sim: Simulator) -> None:
    with sim.transaction() as ctx:
        for table in (crm_tables.activity_bindings, crm_tables.activities, tasks_tables.tasks,
                      crm_tables.crm_items):
            ctx.conn.execute(delete(table))


client_bases = st.fixed_dictionaries({kind: st.integers(0, 3) for kind in TYPES}).filter(
    lambda counts: sum(counts.values()) > 0)
# What happens to each of the owner's items while she is away, by its position in the base.
interference = st.lists(st.sampled_from(
    ["none", "none", "none", "to_third", "to_fourth", "to_owner", "delete"]), max_size=24)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(base=client_bases, deputys_own=st.integers(0, 3), touches=interference,
       include_closed=st.booleans())
def test_restore_undoes_the_handover_except_where_someone_else_acted(
        engine_app: Flask, portal: Simulator, base: dict[str, int], deputys_own: int,
        touches: list[str], include_closed: bool) -> None:
    clear_clients(portal)
    wl.add_client_base(portal, owner=OWNER, counts=base)
    wl.add_client_base(portal, owner=DEPUTY, counts={"deal": deputys_own})
    before = wl.holders_of(portal, (OWNER, DEPUTY, THIRD, FOURTH))

    batch = new_batch(owner=OWNER, to=DEPUTY, include_closed=include_closed)
    run_phase(engine_app, batch.id)
    during = wl.holders_of(portal, (OWNER, DEPUTY, THIRD, FOURTH))
    handed = {key for key, holder in during.items() if before[key] == OWNER and holder == DEPUTY}
    assert handed == set(journal(batch.id))
    assert {k: v for k, v in during.items() if k not in handed} == \
        {k: v for k, v in before.items() if k not in handed}

    expected = dict(before)
    for key, action in zip(sorted(handed), touches, strict=False):
        kind, item_id = key
        if action == "delete":
            remove(portal, kind, item_id)
            expected.pop(key)
        elif action != "none":
            to = {"to_third": THIRD, "to_fourth": FOURTH, "to_owner": OWNER}[action]
            reassign(portal, kind, item_id, to)
            expected[key] = to
    # Deleting a company or a deal takes its own activities with it (the portal does so).
    after_touches = wl.holders_of(portal, (OWNER, DEPUTY, THIRD, FOURTH))
    expected = {key: holder for key, holder in expected.items() if key in after_touches}

    run_phase(engine_app, batch.id, restoring=True)
    assert wl.holders_of(portal, (OWNER, DEPUTY, THIRD, FOURTH)) == expected

"""A client base to hand over: ``size`` items of one salesperson across every kind, written
into a simulated portal with the simulator's own row builders (the generator's shapes), in
bulk and without events. Used by bench/handover.py and the handover tests.

The portal has ``USERS`` people (simulator generator): the owner is user ``OWNER``, the deputy
``DEPUTY``, a third party ``OTHER``. The mix follows a salesperson's real portal: half
activities, then contacts, deals, companies, tasks, smart invoices, leads and quotes; about a
third of everything is closed (won or lost deals, converted leads, completed activities...).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from simulator import Simulator
from simulator.crm import tables as crm_tables
from simulator.scenarios import rows as R
from simulator.scenarios.generator import generate
from simulator.tasks import tables as tasks_tables

USERS = 6
OWNER, DEPUTY, OTHER = 3, 4, 5
# kind -> share of the client base
MIX = {"activity": 0.50, "contact": 0.16, "deal": 0.10, "company": 0.08, "task": 0.05,
       "smart_invoice": 0.04, "lead": 0.04, "quote": 0.03}
CRM_IDS = {"lead": 1, "deal": 2, "contact": 3, "company": 4, "quote": 7, "smart_invoice": 31}
STAGES = {1: ("NEW", "IN_PROCESS", "CONVERTED"), 2: ("NEW", "EXECUTING", "WON", "LOSE"),
          3: (None,), 4: (None,), 7: ("DRAFT", "SENT", "APPROVED"),
          31: ("DT31_1:N", "DT31_1:S", "DT31_1:P")}


def empty_portal(sim: Simulator) -> None:
    """A portal with ``USERS`` people and no clients."""
    sim.reset()
    generate(sim, companies=0, contacts_per_company=0, activities=0, leads=0, deals=0,
             tasks=0, users=USERS, progress=False)


def split(size: int) -> dict[str, int]:
    counts = {kind: int(size * share) for kind, share in MIX.items()}
    counts["activity"] += size - sum(counts.values())
    return counts


def _next_id(conn: Any, table: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def add_client_base(sim: Simulator, size: int = 0, *, owner: int = OWNER,
                    counts: dict[str, int] | None = None) -> dict[str, int]:
    """Write ``size`` items of ``owner`` (or exactly ``counts`` per kind); returns the count
    per kind."""
    counts = {**dict.fromkeys(MIX, 0), **counts} if counts is not None else split(size)
    now = sim.clock.now().replace(microsecond=0)
    created = now - timedelta(days=30)
    with sim.transaction() as ctx:
        conn = ctx.conn
        writer = R.BulkWriter(conn)
        item_id = _next_id(conn, crm_tables.crm_items)
        companies: list[int] = []
        for kind in ("company", "contact", "lead", "deal", "quote", "smart_invoice"):
            type_id = CRM_IDS[kind]
            for n in range(counts[kind]):
                stage = STAGES[type_id][n % len(STAGES[type_id])]
                fields = {"NAME": f"Client{n}", "LAST_NAME": "Test"} if type_id == 3 else {}
                writer.add(crm_tables.crm_items, R.crm_row(
                    item_id, type_id, title=f"{kind} {n}", assigned=owner, created=created,
                    stage=stage, category_id=1 if type_id == 31 else (0 if type_id == 2
                                                                       else None),
                    company_id=companies[n % len(companies)] if companies and type_id != 4
                    else None, fields=fields))
                if type_id == 4:
                    companies.append(item_id)
                item_id += 1
        activity_id = _next_id(conn, crm_tables.activities)
        owner_ref = (4, companies[0]) if companies else (4, 0)
        for n in range(counts["activity"]):
            writer.add(crm_tables.activities, R.activity_row(
                activity_id, owner=owner_ref, type_id=2, direction=2, completed=n % 3 == 0,
                responsible_id=owner, subject=f"Call {n}",
                start=created + timedelta(hours=n % 500)))
            writer.extend(crm_tables.activity_bindings, R.binding_rows(activity_id, [owner_ref]))
            activity_id += 1
        task_id = _next_id(conn, tasks_tables.tasks)
        for n in range(counts["task"]):
            writer.add(tasks_tables.tasks, R.task_row(
                task_id, title=f"Task {n}", created_by=1, responsible_id=owner, created=created,
                deadline=now + timedelta(days=3), status=5 if n % 3 == 0 else 2, now=now))
            task_id += 1
        writer.flush()
        R.sync_sequences(conn)
    return counts


def holders_of(sim: Simulator, user_ids: tuple[int, ...] = (OWNER, DEPUTY, OTHER)
               ) -> dict[tuple[str, int], int]:
    """(kind, id) -> responsible for every item held by ``user_ids``."""
    names = {v: k for k, v in CRM_IDS.items()}
    out: dict[tuple[str, int], int] = {}
    with sim.engine.connect() as conn:
        items = crm_tables.crm_items.c
        for type_id, item_id, holder in conn.execute(select(
                items.entity_type_id, items.id, items.assigned_by_id)
                .where(items.assigned_by_id.in_(user_ids))):
            out[(names[type_id], item_id)] = holder
        for item_id, holder in conn.execute(select(
                crm_tables.activities.c.id, crm_tables.activities.c.responsible_id)
                .where(crm_tables.activities.c.responsible_id.in_(user_ids))):
            out[("activity", item_id)] = holder
        for item_id, holder in conn.execute(select(
                tasks_tables.tasks.c.id, tasks_tables.tasks.c.responsible_id)
                .where(tasks_tables.tasks.c.responsible_id.in_(user_ids))):
            out[("task", item_id)] = holder
    return out


"""Helpers for the handover tests: who holds what on the simulated portal, read straight from
its tables (what a person looking at the portal sees), and running a batch to the end."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from portal_ext.extensions import db
from portal_ext.moves import engine
from portal_ext.moves.models import APPLYING, RESTORING, MoveBatch, MoveItem
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import client_for, current_portal
from simulator import Simulator
from simulator.crm import tables as crm_tables
from simulator.tasks import tables as tasks_tables

CRM_TYPES = {1: "lead", 2: "deal", 3: "contact", 4: "company", 7: "quote", 31: "smart_invoice"}
Key = tuple[str, int]


def holders(sim: Simulator) -> dict[Key, int]:
    """(type, id) -> responsible, for every item on the portal."""
    out: dict[Key, int] = {}
    with sim.engine.connect() as conn:
        for type_id, item_id, owner in conn.execute(select(
                crm_tables.crm_items.c.entity_type_id, crm_tables.crm_items.c.id,
                crm_tables.crm_items.c.assigned_by_id)):
            out[(CRM_TYPES[type_id], item_id)] = owner
        for item_id, owner in conn.execute(select(crm_tables.activities.c.id,
                                                  crm_tables.activities.c.responsible_id)):
            out[("activity", item_id)] = owner
        for item_id, owner in conn.execute(select(tasks_tables.tasks.c.id,
                                                  tasks_tables.tasks.c.responsible_id)):
            out[("task", item_id)] = owner
    return out


def prev_responsible(sim: Simulator) -> dict[Key, Any]:
    """(type, id) -> the UF_CRM_PREV_RESPONSIBLE value the portal shows (CRM items only)."""
    with sim.engine.connect() as conn:
        return {(CRM_TYPES[t], i): (f or {}).get("UF_CRM_PREV_RESPONSIBLE")
                for t, i, f in conn.execute(select(
                    crm_tables.crm_items.c.entity_type_id, crm_tables.crm_items.c.id,
                    crm_tables.crm_items.c.fields))}


def owned_by(sim: Simulator, user_id: int) -> set[Key]:
    return {key for key, owner in holders(sim).items() if owner == user_id}


def journal(batch_id: int) -> dict[Key, MoveItem]:
    return {(i.entity_type, i.entity_id): i for i in db.session.scalars(
        select(MoveItem).where(MoveItem.batch_id == batch_id))}


def new_batch(*, owner: int, to: int, types: list[str] | None = None,
              include_closed: bool = True, kind: str = "handover") -> MoveBatch:
    portal = current_portal()
    batch = MoveBatch(portal_id=portal.id, kind=kind, state="preview", owner_id=owner,
                      to_user_id=to, options={"types": types or list(engine.ENTITY_TYPES),
                                              "include_closed": include_closed},
                      created_at=host_utcnow(), counts={})
    db.session.add(batch)
    db.session.flush()
    engine.plan_batch(batch, client=client_for(portal), to_user_for=lambda _t, _r: to)
    db.session.commit()
    return batch


def run_phase(app: Flask, batch_id: int, *, restoring: bool = False, size: int = 500) -> int:
    """Start the phase and work through it chunk by chunk; returns how many chunks it took."""
    batch = db.session.get(MoveBatch, batch_id)
    assert batch is not None
    engine.start_phase(batch, RESTORING if restoring else APPLYING)
    db.session.commit()
    client = client_for(current_portal())
    step = engine.restore_chunk if restoring else engine.apply_chunk
    chunks = 0
    while step(batch_id, client=client, now=host_utcnow(), size=size):
        chunks += 1
    return chunks


def record_absence(app: Flask, *, user: int, deputy: int | None, start: Any, end: Any) -> int:
    """An absence recorded by the administrator (the extension's own record)."""
    from portal_ext.absences.services import AbsenceInput, create_absence
    from portal_ext.directory.models import PortalUser
    from portal_ext.portal.clock import portal_now, portal_zone

    with app.app_context():
        portal = current_portal()
        admin = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_id == portal.id, PortalUser.portal_user_id == 1)).one()
        absence = create_absence(portal=portal, actor=admin, data=AbsenceInput(
            user_id=user, start=start, end=end, kind="vacation", deputy_id=deputy),
            now=portal_now(client_for(portal)), tz=portal_zone())
        return int(absence.id)


def update_events(sim: Simulator) -> dict[Key, int]:
    """Start counting the portal's update events per item: the returned dict fills up."""
    seen: dict[Key, int] = {}
    names = {"ONCRMLEADUPDATE": "lead", "ONCRMDEALUPDATE": "deal",
             "ONCRMCONTACTUPDATE": "contact", "ONCRMCOMPANYUPDATE": "company",
             "ONCRMQUOTEUPDATE": "quote", "ONCRMDYNAMICITEMUPDATE": "smart_invoice",
             "ONCRMACTIVITYUPDATE": "activity", "ONTASKUPDATE": "task"}

    def count(event: Any) -> None:
        kind = names.get(event.name)
        if kind and event.entity_id is not None:
            key = (kind, int(event.entity_id))
            seen[key] = seen.get(key, 0) + 1

    sim.bus.subscribe_after(count)
    return seen

"""Helpers of the transfer tests: who holds what on the demo portal, and calling the services
in an app context the way the views do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

from portal_ext.context import for_job
from portal_ext.moves.models import MoveBatch
from portal_ext.portal.registration import current_portal
from portal_ext.transfers import services
from simulator import Simulator

# The demo portal (fixtures/demo/portal.yaml).
ADMIN, DIRECTOR, SALES_HEAD, EQUIPMENT_HEAD = 1, 2, 3, 4
NIKITINA, FEDOROV, GRIGORIEVA = 5, 6, 7  # equipment sales (department 3, head 4)
LIFT_HEAD, SMIRNOVA, KUZNETSOV = 8, 9, 10  # containers (department 4, head 8)
VOLKOVA, ORLOV = 11, 12  # marketing (department 5)

CRM_LISTS = {"lead": "crm.lead.list", "deal": "crm.deal.list",
             "contact": "crm.contact.list", "company": "crm.company.list",
             "quote": "crm.quote.list"}


def holdings(sim: Simulator, user_id: int) -> dict[str, int]:
    """How many items of each type ``user_id`` is responsible for, closed ones included."""
    found = {name: int(sim.call(method, {"filter": {"ASSIGNED_BY_ID": user_id},
                                         "select": ["ID"]})["total"])
             for name, method in CRM_LISTS.items()}
    found["smart_invoice"] = int(sim.call("crm.item.list", {
        "entityTypeId": 31, "filter": {"assignedById": user_id}, "select": ["id"]})["total"])
    found["activity"] = int(sim.call("crm.activity.list", {
        "filter": {"RESPONSIBLE_ID": user_id}, "select": ["ID"]})["total"])
    found["task"] = int(sim.call("tasks.task.list", {
        "filter": {"RESPONSIBLE_ID": user_id}, "select": ["ID"]})["total"])
    return found


def owners(sim: Simulator, method: str, ids: list[int], key: str = "ASSIGNED_BY_ID"
           ) -> dict[int, int]:
    """Current responsible of each of ``ids`` (old CRM list methods)."""
    found: dict[int, int] = {}
    for start in range(0, len(ids), 50):
        rows = sim.call(method, {"filter": {"@ID": ids[start:start + 50]},
                                 "select": ["ID", key]})["result"]
        found.update({int(r["ID"]): int(r[key]) for r in rows})
    return found


def item_ids(sim: Simulator, method: str, user_id: int) -> list[int]:
    ids: list[int] = []
    start: Any = 0
    while start is not None:
        answer = sim.call(method, {"filter": {"ASSIGNED_BY_ID": user_id}, "select": ["ID"],
                                   "start": start})
        ids += [int(r["ID"]) for r in answer["result"]]
        start = answer.get("next")
    return ids


@contextmanager
def portal_context(app: Flask) -> Iterator[dict[str, Any]]:
    with app.app_context():
        ctx = for_job(current_portal().id, actor_id=ADMIN)  # the administrator acts
        assert ctx is not None and ctx.actor is not None
        yield {"portal": ctx.portal, "client": ctx.client, "now": ctx.now, "actor": ctx.actor}


def create(app: Flask, **fields: Any) -> int:
    """Preview a transfer as the administrator; returns its id."""
    with portal_context(app) as h:
        batch = services.create_transfer(
            portal=h["portal"], client=h["client"], actor=h["actor"],
            data=services.TransferInput(**fields), now=h["now"])
        return int(batch.id)


def apply(app: Flask, batch_id: int) -> None:
    from portal_ext.extensions import db

    with portal_context(app) as h:
        services.apply_transfer(portal=h["portal"], client=h["client"],
                                batch=db.session.get(MoveBatch, batch_id), actor=h["actor"],
                                now=h["now"])


def undo(app: Flask, batch_id: int, days: int = 14) -> None:
    from portal_ext.extensions import db

    with portal_context(app) as h:
        services.undo_transfer(portal=h["portal"], batch=db.session.get(MoveBatch, batch_id),
                               actor=h["actor"], now=h["now"], days=days)


def batch_state(app: Flask, batch_id: int) -> tuple[str, dict[str, Any]]:
    from portal_ext.extensions import db

    with app.app_context():
        batch = db.session.get(MoveBatch, batch_id)
        assert batch is not None
        return batch.state, dict(batch.options or {})

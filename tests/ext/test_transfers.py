"""Dismissal transfers through the services, against the demo portal: a whole client base,
closed items, activities, invoices and tasks included, goes to successors; undo gives it back
exactly; bad input is refused and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal_ext.extensions import db
from portal_ext.moves.models import APPLIED, PREVIEW, RESTORED, MoveBatch, MoveItem
from portal_ext.transfers.errors import TransferError
from portal_ext.transfers.strategies import ENTITY_TYPES
from simulator import Simulator
from tests.ext.transfers_support import (
    DIRECTOR,
    EQUIPMENT_HEAD,
    FEDOROV,
    GRIGORIEVA,
    KUZNETSOV,
    NIKITINA,
    SMIRNOVA,
    apply,
    batch_state,
    create,
    holdings,
    item_ids,
    owners,
    undo,
)

pytestmark = pytest.mark.dated


def test_a_named_successor_takes_everything_closed_items_included(
        app: Flask, demo_sim: Simulator) -> None:
    before = holdings(demo_sim, NIKITINA)
    assert before["activity"] > 0 and before["smart_invoice"] > 0 and before["task"] > 0
    closed = demo_sim.call("crm.deal.list", {"filter": {"ASSIGNED_BY_ID": NIKITINA,
                                                        "CLOSED": "Y"}})["total"]
    assert closed > 0
    fedorov_before = holdings(demo_sim, FEDOROV)
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})

    batch_id = create(app, user_id=NIKITINA, strategy="person", successors=[FEDOROV])
    state, options = batch_state(app, batch_id)
    assert state == PREVIEW
    assert holdings(demo_sim, NIKITINA) == before  # a preview changes nothing
    with app.app_context():
        counts = db.session.get(MoveBatch, batch_id).counts  # type: ignore[union-attr]
    assert counts == before
    assert options["decision"]["successors"] == [{
        "user_id": FEDOROV, "load_before": 0, "load_after": sum(before.values()),
        "total": sum(before.values()), "received": dict(sorted(before.items()))}]

    apply(app, batch_id)
    assert batch_state(app, batch_id)[0] == APPLIED
    assert sum(holdings(demo_sim, NIKITINA).values()) == 0
    after = holdings(demo_sim, FEDOROV)
    assert {t: after[t] - fedorov_before[t] for t in after} == before


def test_undo_gives_back_exactly_and_leaves_what_someone_else_took(
        app: Flask, demo_sim: Simulator) -> None:
    deals = item_ids(demo_sim, "crm.deal.list", GRIGORIEVA)
    companies = item_ids(demo_sim, "crm.company.list", GRIGORIEVA)
    before = holdings(demo_sim, GRIGORIEVA)
    demo_sim.call("user.update", {"ID": GRIGORIEVA, "ACTIVE": "N"})
    batch_id = create(app, user_id=GRIGORIEVA, strategy="head")  # the head of equipment sales
    apply(app, batch_id)
    assert set(owners(demo_sim, "crm.deal.list", deals).values()) == {EQUIPMENT_HEAD}
    # Meanwhile the head hands one deal on to Kuznetsov: undo must not take it back.
    demo_sim.call("crm.deal.update", {"id": deals[0], "fields": {"ASSIGNED_BY_ID": KUZNETSOV}})

    undo(app, batch_id)
    assert batch_state(app, batch_id)[0] == RESTORED
    now_deals = owners(demo_sim, "crm.deal.list", deals)
    assert now_deals[deals[0]] == KUZNETSOV
    assert {d: u for d, u in now_deals.items() if d != deals[0]} == {
        d: GRIGORIEVA for d in deals[1:]}
    assert set(owners(demo_sim, "crm.company.list", companies).values()) == {GRIGORIEVA}
    after = holdings(demo_sim, GRIGORIEVA)
    # The portal assigns no task to a dismissed user ("The user specified in the Assignee
    # field is not found"): tasks stay with the head and the report says why.
    assert after == {**before, "deal": before["deal"] - 1, "task": 0}
    with app.app_context():
        unusual = db.session.execute(select(MoveItem.entity_type, MoveItem.entity_id,
                                            MoveItem.state, MoveItem.note).where(
            MoveItem.batch_id == batch_id, MoveItem.state != "restored")).all()
    assert ("deal", deals[0], "conflict") in {(t, i, state) for t, i, state, _ in unusual}
    assert {t for t, _id, _state, _note in unusual} == {"deal", "task"}
    tasks = demo_sim.call("tasks.task.list", {"filter": {"RESPONSIBLE_ID": EQUIPMENT_HEAD},
                                              "select": ["ID"]})["result"]["tasks"]
    assert {int(t["id"]) for t in tasks} >= {i for t, i, _s, _n in unusual if t == "task"}


def test_spread_over_people_by_load_is_even_and_reported_per_successor(
        app: Flask, demo_sim: Simulator) -> None:
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    batch_id = create(app, user_id=NIKITINA, strategy="spread",
                      successors=[FEDOROV, SMIRNOVA, KUZNETSOV], types=["deal", "lead"])
    _state, options = batch_state(app, batch_id)
    shares = {s["user_id"]: s for s in options["decision"]["successors"]}
    # Loads are counted on the portal: open leads, deals, quotes, contacts and companies.
    assert set(shares) == {FEDOROV, SMIRNOVA, KUZNETSOV}  # receiving or not, all shown
    lowest = min(s["load_after"] for s in shares.values())
    assert all(s["load_after"] <= lowest + 1 for s in shares.values() if s["total"])
    assert sum(s["total"] for s in shares.values()) == sum(
        holdings(demo_sim, NIKITINA)[t] for t in ("deal", "lead"))
    with app.app_context():
        planned = dict(db.session.execute(
            select(MoveItem.to_user_id, func.count()).where(MoveItem.batch_id == batch_id)
            .group_by(MoveItem.to_user_id)).all())
    assert planned == {uid: s["total"] for uid, s in shares.items() if s["total"]}


@pytest.mark.parametrize(("fields", "field", "code"), [
    ({"user_id": 999, "strategy": "person", "successors": [FEDOROV]}, "user_id", "validation"),
    ({"user_id": NIKITINA, "strategy": "person", "successors": [GRIGORIEVA]}, "successors",
     "validation"),
    ({"user_id": NIKITINA, "strategy": "person", "successors": [NIKITINA]}, "successors",
     "validation"),
    ({"user_id": NIKITINA, "strategy": "spread", "successors": []}, "successors",
     "validation"),
    ({"user_id": NIKITINA, "strategy": "person", "successors": [FEDOROV], "types": []},
     "types", "validation"),
    ({"user_id": NIKITINA, "strategy": "person", "successors": [FEDOROV],
      "types": ["ship"]}, "types", "validation"),
    ({"user_id": NIKITINA, "strategy": "per_type", "per_type": {"deal": FEDOROV},
      "types": ["deal", "lead"]}, "successors", "validation"),
    ({"user_id": NIKITINA, "strategy": "magic"}, "strategy", "validation"),
])
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
        app: Flask, demo_sim: Simulator, fields: dict[str, object], field: str,
        code: str) -> None:
    demo_sim.call("user.update", {"ID": GRIGORIEVA, "ACTIVE": "N"})
    before = holdings(demo_sim, NIKITINA)
    with pytest.raises(TransferError) as caught:
        create(app, **fields)
    assert (caught.value.field, caught.value.code) == (field, code)
    assert holdings(demo_sim, NIKITINA) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MoveBatch)) == 0


def test_double_submission_is_refused(app: Flask, demo_sim: Simulator) -> None:
    batch_id = create(app, user_id=NIKITINA, strategy="person", successors=[FEDOROV],
                      types=["deal"])
    with pytest.raises(TransferError) as caught:
        create(app, user_id=NIKITINA, strategy="person", successors=[SMIRNOVA])
    assert caught.value.code == "conflict"
    apply(app, batch_id)
    with pytest.raises(TransferError) as again:
        apply(app, batch_id)
    assert (again.value.code, str(again.value.message)) == (
        "conflict", "This transfer was already applied.")
    undo(app, batch_id)
    with pytest.raises(TransferError) as twice:
        undo(app, batch_id)
    assert twice.value.code == "conflict"


def test_undo_after_the_period_is_refused(app: Flask, demo_sim: Simulator) -> None:
    batch_id = create(app, user_id=NIKITINA, strategy="person", successors=[FEDOROV],
                      types=["company"])
    apply(app, batch_id)
    demo_sim.clock.advance(timedelta(days=15).total_seconds())
    with pytest.raises(TransferError) as caught:
        undo(app, batch_id, days=14)
    assert caught.value.code == "expired"
    assert set(owners(demo_sim, "crm.company.list",
                      item_ids(demo_sim, "crm.company.list", FEDOROV)).values()) == {FEDOROV}


def test_a_user_with_nothing_to_transfer_gets_a_clear_refusal(app: Flask,
                                                               demo_sim: Simulator) -> None:
    # The general director holds no CRM item at all.
    batch_id = create(app, user_id=DIRECTOR, strategy="person", successors=[FEDOROV])
    with app.app_context():
        assert db.session.get(MoveBatch, batch_id).counts == dict.fromkeys(  # type: ignore[union-attr]
            ENTITY_TYPES, 0)
    with pytest.raises(TransferError) as caught:
        apply(app, batch_id)
    assert caught.value.field == "types"
    assert batch_state(app, batch_id)[0] == PREVIEW


def test_a_successor_dismissed_after_the_preview_stops_the_transfer(
        app: Flask, demo_sim: Simulator) -> None:
    before = holdings(demo_sim, NIKITINA)
    batch_id = create(app, user_id=NIKITINA, strategy="person", successors=[FEDOROV],
                      types=["deal"])
    demo_sim.call("user.update", {"ID": FEDOROV, "ACTIVE": "N"})
    with pytest.raises(TransferError) as caught:
        apply(app, batch_id)
    assert caught.value.field == "successors"
    assert "make a new preview" in str(caught.value.message)
    assert holdings(demo_sim, NIKITINA) == before

"""Automatic change of responsible (seed 004) and the dismissal policy: a dismissal noticed
in-process or by the sync over REST re-points the user's companies and every contact of those
companies at once; the ``automatic`` policy transfers everything; absences get the change while
they run and give it back when they end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal_ext.absences import services as absences
from portal_ext.directory.models import PortalUser
from portal_ext.directory.services import sync_directory
from portal_ext.extensions import db
from portal_ext.moves.models import APPLIED, RESTORED, MoveBatch
from portal_ext.portal.clock import portal_zone
from portal_ext.transfers import auto_mode
from portal_ext.transfers.errors import PolicyError
from portal_ext.transfers.models import AUTOMATIC, CONFIRM, PENDING, TRANSFERRED, Dismissal
from portal_ext.transfers.tasks import act_on_portal
from simulator import Simulator
from tests.ext.transfers_support import (
    ADMIN,
    EQUIPMENT_HEAD,
    FEDOROV,
    GRIGORIEVA,
    NIKITINA,
    SMIRNOVA,
    holdings,
    item_ids,
    owners,
    portal_context,
)

pytestmark = pytest.mark.dated


def set_policy(app: Flask, **changes: Any) -> None:
    values = {"on_dismissal": CONFIRM, "auto_mode": True, "auto_on_absence": False,
              "strategy": "head", "successor_id": None, "include_closed": True, **changes}
    with portal_context(app) as h:
        auto_mode.save_policy(portal=h["portal"], actor=h["actor"], now=h["now"], **values)


def contacts_of(sim: Simulator, companies: list[int]) -> list[int]:
    found: set[int] = set()
    for start in range(0, len(companies), 50):
        page: Any = 0
        while page is not None:
            rows = sim.call("crm.contact.list", {
                "filter": {"@COMPANY_ID": companies[start:start + 50]}, "select": ["ID"],
                "start": page})
            found |= {int(r["ID"]) for r in rows["result"]}
            page = rows.get("next")
    return sorted(found)


def dismissal(app: Flask, user_id: int) -> Dismissal | None:
    with app.app_context():
        found = db.session.scalars(select(Dismissal).where(Dismissal.user_id == user_id)).first()
        if found is not None:
            db.session.expunge(found)
        return found


def test_a_dismissal_event_re_points_companies_and_all_their_contacts(
        app: Flask, demo_sim: Simulator) -> None:
    set_policy(app)
    companies = item_ids(demo_sim, "crm.company.list", NIKITINA)
    contacts = contacts_of(demo_sim, companies)
    # One contact of her client is someone else's: it goes to the new manager too.
    demo_sim.call("crm.contact.update", {"id": contacts[0], "fields": {"ASSIGNED_BY_ID": SMIRNOVA}})
    deals_before = holdings(demo_sim, NIKITINA)["deal"]

    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})

    assert set(owners(demo_sim, "crm.company.list", companies).values()) == {EQUIPMENT_HEAD}
    assert set(owners(demo_sim, "crm.contact.list", contacts).values()) == {EQUIPMENT_HEAD}
    assert holdings(demo_sim, NIKITINA)["deal"] == deals_before  # the rest waits: "confirm"
    found = dismissal(app, NIKITINA)
    assert found is not None and (found.state, found.source) == (PENDING, "event")
    assert found.acted_at is not None and found.error is None
    with app.app_context():
        batch = db.session.scalars(select(MoveBatch)).one()
        assert (batch.state, batch.counts) == (APPLIED, {"company": len(companies),
                                                         "contact": len(contacts)})


def test_a_dismissal_found_by_the_sync_over_rest_acts_the_same(
        app: Flask, demo_sim: Simulator) -> None:
    set_policy(app)
    companies = item_ids(demo_sim, "crm.company.list", FEDOROV)
    demo_sim.bus.clear_subscribers()  # a real portal sends no event for a dismissal
    demo_sim.call("user.update", {"ID": FEDOROV, "ACTIVE": "N"})
    assert dismissal(app, FEDOROV) is None
    with portal_context(app) as h:
        sync_directory(portal=h["portal"], client=h["client"], now=h["now"])
    found = dismissal(app, FEDOROV)
    assert found is not None and found.source == "sync"
    assert set(owners(demo_sim, "crm.company.list", companies).values()) == {EQUIPMENT_HEAD}


def test_the_automatic_policy_transfers_everything_at_once(
        app: Flask, demo_sim: Simulator) -> None:
    set_policy(app, on_dismissal=AUTOMATIC, auto_mode=False, strategy="person",
               successor_id=GRIGORIEVA)
    before = holdings(demo_sim, NIKITINA)
    grigorieva = holdings(demo_sim, GRIGORIEVA)
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    assert sum(holdings(demo_sim, NIKITINA).values()) == 0
    after = holdings(demo_sim, GRIGORIEVA)
    assert {t: after[t] - grigorieva[t] for t in after} == before
    found = dismissal(app, NIKITINA)
    assert found is not None and found.state == TRANSFERRED


def test_without_a_successor_the_dismissal_waits_and_says_why(
        app: Flask, demo_sim: Simulator) -> None:
    set_policy(app, on_dismissal=AUTOMATIC)
    demo_sim.call("department.update", {"ID": 3, "UF_HEAD": NIKITINA})
    demo_sim.call("department.update", {"ID": 2, "UF_HEAD": ""})
    demo_sim.call("department.update", {"ID": 1, "UF_HEAD": ""})
    with portal_context(app) as h:
        sync_directory(portal=h["portal"], client=h["client"], now=h["now"])
    before = holdings(demo_sim, NIKITINA)
    demo_sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    assert holdings(demo_sim, NIKITINA) == before
    found = dismissal(app, NIKITINA)
    assert found is not None and found.state == PENDING
    assert "nobody to take over" in (found.error or "")
    assert "no active department head" in (found.error or "")


def test_absences_get_the_change_while_they_run_and_give_it_back(
        app: Flask, demo_sim: Simulator) -> None:
    set_policy(app, auto_on_absence=True)
    companies = item_ids(demo_sim, "crm.company.list", FEDOROV)
    contacts = contacts_of(demo_sim, companies)
    with portal_context(app) as h:
        admin = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_user_id == ADMIN)).one()
        absences.create_absence(portal=h["portal"], actor=admin, now=h["now"], tz=portal_zone(),
                                data=absences.AbsenceInput(
                                    user_id=FEDOROV, start=h["now"] - timedelta(hours=1),
                                    end=h["now"] + timedelta(days=2), kind="vacation",
                                    deputy_id=GRIGORIEVA))
        portal_id = h["portal"].id
    with app.app_context():
        act_on_portal(portal_id)
        act_on_portal(portal_id)  # running again changes nothing more
    assert set(owners(demo_sim, "crm.company.list", companies).values()) == {GRIGORIEVA}
    assert set(owners(demo_sim, "crm.contact.list", contacts).values()) == {GRIGORIEVA}

    demo_sim.clock.advance(timedelta(days=3).total_seconds())
    with app.app_context():
        act_on_portal(portal_id)
        assert db.session.scalars(select(MoveBatch)).one().state == RESTORED
    assert set(owners(demo_sim, "crm.company.list", companies).values()) == {FEDOROV}


@pytest.mark.parametrize(("changes", "field"), [
    ({"on_dismissal": "later"}, "on_dismissal"),
    ({"strategy": "random"}, "strategy"),
    ({"strategy": "person", "successor_id": None}, "successor_id"),
    ({"strategy": "person", "successor_id": 999}, "successor_id"),
])
def test_a_bad_policy_is_refused_naming_the_field(app: Flask, changes: dict[str, Any],
                                                   field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        set_policy(app, **changes)
    assert caught.value.field == field
    with app.app_context():
        assert auto_mode.get_policy(1).auto_mode is False  # nothing was saved


def test_a_dismissed_person_cannot_be_the_policy_successor(app: Flask,
                                                           demo_sim: Simulator) -> None:
    demo_sim.call("user.update", {"ID": SMIRNOVA, "ACTIVE": "N"})
    with pytest.raises(PolicyError) as caught:
        set_policy(app, strategy="person", successor_id=SMIRNOVA)
    assert caught.value.field == "successor_id"

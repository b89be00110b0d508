"""The extension's copy of the portal's people: synced at start, on user events and by the
periodic tick; dismissed employees stay, inactive; roles follow the portal."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

from flask import Flask
from sqlalchemy import select

from portal_ext.directory.models import Department, PortalUser
from portal_ext.directory.services import sync_directory
from portal_ext.directory.tasks import sync_directory_tick
from portal_ext.events.models import DONE, InboxEvent
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import client_for, current_portal
from simulator import Simulator


def people(app: Flask) -> dict[int, SimpleNamespace]:
    """Everyone as the extension knows them (plain values, roles resolved)."""
    with app.app_context():
        return {u.portal_user_id: SimpleNamespace(**u.as_dict(), full_name=u.full_name,
                                                  is_active=u.is_active)
                for u in db.session.scalars(select(PortalUser))}


def sync(app: Flask) -> dict[str, int]:
    with app.app_context():
        portal = current_portal()
        return sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())


def test_the_directory_mirrors_the_portal_with_roles(app: Flask) -> None:
    users = people(app)
    assert len(users) == 12
    admin = users[1]
    assert (admin.email, admin.full_name, admin.is_admin, admin.role) == (
        "admin@demo.portal", "Дмитрий Соколов", True, "admin")
    # Department heads (UF_HEAD) of the demo portal: 2, 3, 4, 8, 11.
    assert sorted(u for u, p in users.items() if p.role == "head") == [2, 3, 4, 8, 11]
    assert users[5].role == "employee"
    assert users[5].department_ids == [3]
    with app.app_context():
        departments = {d.portal_department_id: d for d in db.session.scalars(select(Department))}
    assert (departments[3].name, departments[3].parent_portal_id,
            departments[3].head_portal_user_id) == ("Торг-Комс (спецтехника и оборудование)", 2, 4)


def test_syncing_again_changes_nothing(app: Flask) -> None:
    assert sync(app) == {"users": 12, "created": 0, "updated": 0, "dismissed": 0,
                         "unchanged": 12, "departments": 5}


def test_a_dismissal_event_marks_the_user_inactive(app: Flask, demo_sim: Simulator) -> None:
    demo_sim.call("user.update", {"ID": 7, "ACTIVE": "N"})
    user = people(app)[7]
    assert (user.active, user.is_active) == (False, False)
    with app.app_context():
        row = db.session.scalars(select(InboxEvent)).one()
        assert (row.event_name, row.entity_id, row.state) == ("ONUSERUPDATE", 7, DONE)


def test_a_dismissal_nobody_reported_is_found_by_the_next_sync(app: Flask,
                                                                demo_sim: Simulator) -> None:
    demo_sim.bus.clear_subscribers()  # the event is lost, as webhooks can be
    demo_sim.call("user.update", {"ID": 9, "ACTIVE": "N"})
    assert people(app)[9].active is True
    counts = sync(app)
    assert (counts["users"], counts["dismissed"]) == (12, 1)  # dismissed users are still listed
    assert people(app)[9].active is False


def test_a_new_head_of_department_changes_roles_at_the_next_sync(app: Flask,
                                                                  demo_sim: Simulator) -> None:
    demo_sim.call("department.update", {"ID": 5, "UF_HEAD": 12})  # no event exists for this
    sync(app)
    users = people(app)
    assert (users[12].role, users[11].role) == ("head", "employee")


def test_the_periodic_tick_resyncs_only_a_stale_copy(app: Flask, demo_sim: Simulator) -> None:
    demo_sim.bus.clear_subscribers()
    demo_sim.call("user.update", {"ID": 10, "WORK_POSITION": "Lead engineer"})
    with app.app_context():
        assert sync_directory_tick() == {}  # synced moments ago
        app.config["DIRECTORY_SYNC_SECONDS"] = 0.0
        assert sync_directory_tick()["updated"] == 1
    assert people(app)[10].work_position == "Lead engineer"


def test_sync_on_an_empty_database_creates_the_portal_and_everyone(bare_app: Flask,
                                                                   demo_sim: Simulator) -> None:
    counts = sync(bare_app)
    assert (counts["created"], counts["departments"]) == (12, 5)
    with bare_app.app_context():
        portal = current_portal()
        assert (portal.mode, portal.application_token, portal.client_id) == (
            "simulated", demo_sim.application_token, "portal-ext")
        stale = host_utcnow() - timedelta(days=1)
        assert all(u.synced_at is not None and u.synced_at > stale
                   for u in db.session.scalars(select(PortalUser)))


def test_the_portal_sync_command_prints_the_counts(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["portal", "sync"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["unchanged"] == 12

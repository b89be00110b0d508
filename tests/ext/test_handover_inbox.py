"""What people find in their portal inboxes after a mass move: one summary each, in their
language, and no per-item notices or copies of them."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.notifications.models import Delivery
from simulator import Simulator
from simulator.im import tables as im_tables
from tests.ext.absences_support import (
    FEDOROV,
    GRIGORIEVA,
    NIKITINA,
    SMIRNOVA,
)
from tests.ext.handover_support import owned_by, record_absence

pytestmark = pytest.mark.dated

# The kinds whose per-item notice the portal lets a caller switch off (REGISTER_SONET_EVENT).
QUIET_TYPES = ["lead", "deal", "contact", "company", "quote"]
ITEMS = 200


def last_notification(sim: Simulator) -> int:
    with sim.engine.connect() as conn:
        return int(conn.execute(select(func.max(im_tables.notifications.c.id))).scalar() or 0)


def inboxes_since(sim: Simulator, mark: int) -> dict[int, list[str]]:
    """Every notification put in any inbox after ``mark``, per recipient."""
    out: dict[int, list[str]] = {}
    with sim.engine.connect() as conn:
        for user_id, message in conn.execute(select(
                im_tables.notifications.c.user_id, im_tables.notifications.c.message).where(
                im_tables.notifications.c.id > mark).order_by(im_tables.notifications.c.id)):
            out.setdefault(int(user_id), []).append(message)
    return out


def top_up(sim: Simulator, owner: int, wanted: int) -> None:
    """Give ``owner`` open deals until they hold ``wanted`` items of the quiet kinds."""
    have = len([k for k in owned_by(sim, owner) if k[0] in QUIET_TYPES])
    for n in range(max(0, wanted - have)):
        sim.call("crm.deal.add", {"fields": {"TITLE": f"Top-up {n}", "ASSIGNED_BY_ID": owner},
                                  "params": {"REGISTER_SONET_EVENT": "N"}})


def start(client: FlaskClient, auth: dict[str, str], absence_id: int, types: list[str]
          ) -> dict[str, Any]:
    answer = client.post("/api/v1/handovers", headers=auth, json={
        "absence_id": absence_id, "types": types, "include_closed": True})
    assert answer.status_code == 201, answer.get_json()
    batch_id = answer.get_json()["id"]
    assert client.post(f"/api/v1/handovers/{batch_id}/apply", headers=auth).status_code == 202
    body: dict[str, Any] = client.get(f"/api/v1/handovers/{batch_id}", headers=auth).get_json()
    assert body["state"] == "applied"
    return body


def test_a_handover_of_200_items_leaves_one_summary_per_person_and_nothing_else(
        app: Flask, client: FlaskClient, demo_sim: Simulator, t0: datetime,
        admin: dict[str, str]) -> None:
    top_up(demo_sim, NIKITINA, ITEMS)
    absence_id = record_absence(app, user=NIKITINA, deputy=FEDOROV,
                                start=t0 - timedelta(hours=1), end=t0 + timedelta(days=14))
    # Nikitina reads Russian on the extension's pages; Fedorov never chose.
    with app.app_context():
        db.session.execute(db.update(PortalUser).where(PortalUser.portal_user_id == NIKITINA)
                           .values(language="ru"))
        db.session.commit()
    app.config["PORTAL_LANGUAGE"] = "en"
    mark = last_notification(demo_sim)

    body = start(client, admin, absence_id, QUIET_TYPES)
    moved = body["totals"]["moved"]
    assert moved >= ITEMS
    inboxes = inboxes_since(demo_sim, mark)
    assert {user: len(messages) for user, messages in inboxes.items()} == {FEDOROV: 1}
    (summary,) = inboxes[FEDOROV]
    assert summary.startswith(f"{moved} of Ольга Никитина's items are yours until ")
    assert f"deals {body['counts']['deal']['moved']}" in summary

    mark = last_notification(demo_sim)
    answer = client.post(f"/api/v1/handovers/{body['id']}/restore", headers=admin)
    assert answer.status_code == 202
    inboxes = inboxes_since(demo_sim, mark)
    assert {user: len(messages) for user, messages in inboxes.items()} == \
        {NIKITINA: 1, FEDOROV: 1}
    assert inboxes[NIKITINA][0].startswith("С возвращением")
    assert f"{moved} of Ольга Никитина's items went back to them" in inboxes[FEDOROV][0]


def test_the_portals_own_notices_of_a_move_are_never_copied(
        app: Flask, client: FlaskClient, demo_sim: Simulator, t0: datetime,
        admin: dict[str, str]) -> None:
    """Tasks and invoices: the portal notifies each new responsible whatever the caller asks;
    the extension copies none of those notices to a deputy or a team."""
    answer = client.post("/api/v1/teams", headers=admin, json={
        "name": "Desk", "kinds": ["task_assigned", "client_assigned"],
        "members": [NIKITINA, FEDOROV, SMIRNOVA, GRIGORIEVA]})
    assert answer.status_code == 201, answer.get_json()
    absence_id = record_absence(app, user=NIKITINA, deputy=FEDOROV,
                                start=t0 - timedelta(hours=1), end=t0 + timedelta(days=14))
    mark = last_notification(demo_sim)
    body = start(client, admin, absence_id, ["smart_invoice", "task"])
    assert body["totals"]["moved"] > 0
    # Given back while Nikitina is still away: her cover would get copies of what she gets.
    client.post(f"/api/v1/handovers/{body['id']}/restore", headers=admin)

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
    copies = Counter(user for user, messages in inboxes_since(demo_sim, mark).items()
                     for m in messages if "Copy" in m or "Копия" in m)
    assert copies == Counter()

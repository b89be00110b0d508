"""The home page of each role on the demo portal: an employee sees their absences, deputy and
handed-over items; a deputy whom they cover until when, with the cover list; a head who of
their department is away and what waits for them; an administrator the queues and what failed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.directory.models import PortalUser
from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.notifications.models import Delivery
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import current_portal
from simulator import Simulator
from tests.clock import PORTAL_ZONE
from tests.ext.absences_support import (
    ADMIN,
    EMAILS,
    FEDOROV,
    GRIGORIEVA,
    KUZNETSOV,
    NIKITINA,
    SMIRNOVA,
    TORG_HEAD,
)
from tests.ext.fanout_support import record_absence
from tests.ext.handover_support import journal

pytestmark = pytest.mark.dated


def names(app: Flask) -> dict[int, str]:
    with app.app_context():
        return {u.portal_user_id: u.full_name for u in db.session.scalars(select(PortalUser))}


def home_of(app: Flask, login_as: Any, user_id: int) -> str:
    browser = app.test_client()
    login_as(browser, EMAILS[user_id])
    response = browser.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def part(page: str, element_id: str) -> str:
    """The element with ``id`` (up to its closing tag of the same name)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no #{element_id}"
    return re.sub(r"\s+", " ", found.group(2))


def local_day(moment: datetime) -> date:
    return moment.replace(tzinfo=UTC).astimezone(PORTAL_ZONE).date()


def shown(day: date) -> str:
    """A day as the home page writes it in English: ``14 Dec 2026``."""
    return f"{day.day} {day:%b %Y}"


def hand_over(client: FlaskClient, auth: dict[str, str], absence_id: int) -> int:
    answer = client.post("/api/v1/handovers", headers=auth, json={
        "absence_id": absence_id, "types": ["deal"], "include_closed": True})
    assert answer.status_code == 201, answer.get_json()
    batch_id = int(answer.get_json()["id"])
    assert client.post(f"/api/v1/handovers/{batch_id}/apply", headers=auth).status_code == 202
    return batch_id


@pytest.fixture
def away(app: Flask, client: FlaskClient, t0: datetime, admin: dict[str, str]
         ) -> dict[str, Any]:
    """Nikitina away from an hour ago for three days, Fedorov her deputy holding her deals;
    Smirnova away in ten days, Kuznetsov named her deputy."""
    nikitina = record_absence(app, NIKITINA, FEDOROV, t0 - timedelta(hours=1),
                              t0 + timedelta(days=3), now=t0 - timedelta(hours=2))
    smirnova = record_absence(app, SMIRNOVA, KUZNETSOV, t0 + timedelta(days=10),
                              t0 + timedelta(days=12), now=t0 - timedelta(hours=2))
    batch_id = hand_over(client, admin, nikitina)
    with app.app_context():
        moved = sum(1 for item in journal(batch_id).values() if item.state == "moved")
    return {"nikitina": nikitina, "smirnova": smirnova, "batch": batch_id, "moved": moved,
            "t0": t0}


def test_an_employee_sees_their_absence_their_deputy_and_their_items_handed_over(
        app: Flask, login_as: Any, away: dict[str, Any]) -> None:
    who = names(app)
    t0 = away["t0"]
    page = home_of(app, login_as, NIKITINA)

    # The end is exclusive: the last day shown is the one just before it (at midnight, the
    # day before).
    assert shown(local_day(t0 + timedelta(days=3) - timedelta(microseconds=1))) in part(
        page, "away-now")
    assert "none planned" in part(page, "next-absence")
    assert part(page, "my-deputy") == who[FEDOROV]
    handed = part(page, "my-handovers")
    assert f"{away['moved']} items are with {who[FEDOROV]}" in handed
    assert f'href="/handovers/{away["batch"]}"' in handed
    assert 'id="portal-connection"' not in page and 'id="queues"' not in page


def test_an_employee_with_an_absence_ahead_sees_it_and_who_will_cover(
        app: Flask, login_as: Any, away: dict[str, Any]) -> None:
    who = names(app)
    t0 = away["t0"]
    page = home_of(app, login_as, SMIRNOVA)

    assert "At work" in part(page, "away-now")
    assert shown(local_day(t0 + timedelta(days=10))) in part(page, "next-absence")
    assert part(page, "my-deputy") == who[KUZNETSOV]
    assert 'id="my-handovers"' not in page


def test_a_deputy_sees_whom_they_cover_until_when_with_the_cover_list(
        app: Flask, login_as: Any, away: dict[str, Any]) -> None:
    who = names(app)
    until = shown(local_day(away["t0"] + timedelta(days=3) - timedelta(microseconds=1)))
    page = home_of(app, login_as, FEDOROV)

    covering = part(page, "covering-now")
    assert f"{who[NIKITINA]}, until {until}" in covering
    assert f'href="/absences/{away["nikitina"]}/cover"' in covering
    assert f"{away['moved']} items" in part(page, "holding")
    assert 'href="/absences/covering"' in page
    ahead = home_of(app, login_as, KUZNETSOV)
    assert who[SMIRNOVA] in part(ahead, "covering-ahead")


def test_a_head_sees_who_is_away_and_what_waits_for_them(
        app: Flask, client: FlaskClient, demo_sim: Simulator, login_as: Any,
        admin: dict[str, str], away: dict[str, Any]) -> None:
    who = names(app)
    t0 = away["t0"]
    tomorrow = local_day(t0) + timedelta(days=1)
    # Grigorieva is away tomorrow: later this week unless tomorrow starts a new week.
    record_absence(app, GRIGORIEVA, FEDOROV, t0 + timedelta(days=1), t0 + timedelta(days=2),
                   now=t0 - timedelta(hours=2))
    # A deal handed over to Fedorov is given to Kuznetsov meanwhile: giving back leaves it
    # alone, a conflict for the head to look at.
    with app.app_context():
        deal = next(i.entity_id for i in journal(away["batch"]).values() if i.state == "moved")
    demo_sim.call("crm.deal.update", {"id": deal, "fields": {"ASSIGNED_BY_ID": KUZNETSOV}})
    assert client.post(f"/api/v1/handovers/{away['batch']}/restore",
                       headers=admin).status_code == 202

    page = home_of(app, login_as, TORG_HEAD)

    assert who[NIKITINA] in part(page, "away-today")
    assert f"deputy: {who[FEDOROV]}" in part(page, "away-today")
    if tomorrow.weekday() != 0:
        assert who[GRIGORIEVA] in part(page, "away-this-week")
    else:
        assert 'id="away-this-week"' not in page
    waiting = part(page, "attention")
    assert f'href="/handovers/{away["batch"]}"' in waiting and "1 conflict" in waiting
    assert 'id="queues"' not in page


def test_an_administrator_sees_the_queues_and_everything_failed(
        app: Flask, login_as: Any) -> None:
    stamped = host_utcnow()  # what stored stamps are on
    with app.app_context():
        portal = current_portal()
        for number, (state, age) in enumerate([("pending", 2), ("pending", 1),
                                                ("failed", 3)]):
            db.session.add(InboxEvent(
                portal_id=portal.id, idempotency_key=f"home-{number}", event_name="ONCRMDEALADD",
                source="webhook", entity_type="DEAL", entity_id=100 + number, payload={},
                received_at=stamped - timedelta(hours=age), state=state, attempts=0))
        for number, state in enumerate(["pending", "failed", "failed"]):
            db.session.add(Delivery(
                portal_id=portal.id, source_key=f"home-{number}", source_kind="crm_assigned",
                kind="client_assigned", owner_portal_user_id=NIKITINA,
                recipient_portal_user_id=FEDOROV, reason="deputy", reason_detail=[],
                message="copy", state=state, attempts=1,
                created_at=stamped - timedelta(minutes=30)))
        db.session.commit()

    page = home_of(app, login_as, ADMIN)

    inbox = part(page, "queue-inbox")
    assert re.search(r'<td class="count">2</td><td>2 hours</td>', inbox)
    outbox = part(page, "queue-outbox")
    assert re.search(r'<td class="count">1</td><td>30 minutes</td>', outbox)
    assert 'href="/events?state=failed"' in part(page, "failed-events")
    assert "1 portal event failed" in part(page, "failed-events")
    assert 'href="/deliveries?state=failed"' in part(page, "failed-deliveries")
    assert "2 copies failed" in part(page, "failed-deliveries")
    assert "Portal connection" in page and 'id="synced-users">12<' in page


def test_the_home_page_speaks_russian(app: Flask, login_as: Any, away: dict[str, Any]) -> None:
    who = names(app)
    until = local_day(away["t0"] + timedelta(days=3) - timedelta(microseconds=1))
    browser = app.test_client()
    assert browser.post("/language", data={"lang": "ru"}).status_code == 302
    login_as(browser, EMAILS[FEDOROV])
    page = browser.get("/").get_data(as_text=True)

    for russian in ("Мои отсутствия", "Мой заместитель", "Кого я замещаю", "Что замещать",
                    "Объекты, которые я веду за других"):
        assert russian in page, russian
    assert f"{who[NIKITINA]}, до {until.day} " in part(page, "covering-now")
    for english in ("My absences", "My deputy", "Whom I cover", "Cover list", "until"):
        assert english not in page, english

"""Following the portal's absence chart: in-process events and the REST poll both add,
change and delete the imported absences, and fill the deputy the chart does not have."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, update
from werkzeug.serving import make_server

from portal_ext.absences.chart_import import poll_chart
from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import forget_portal_time, portal_now
from portal_ext.portal.registration import current_portal
from portal_ext.portal.transports import HttpTransport
from simulator import Simulator
from simulator.calendar import add_absence, delete_absence, update_absence
from simulator.calendar import tables as calendar_tables
from simulator.web import create_app as create_simulator_app
from tests.ext.absences_support import (
    ADMIN,
    FEDOROV,
    GRIGORIEVA,
    NIKITINA,
    SALES_HEAD,
    TORG_HEAD,
    absences,
    freeze,
    tick,
    token,
)

pytestmark = pytest.mark.dated


def imported(app: Flask, user_id: int) -> list[dict[str, object]]:
    return [a for a in absences(app) if a["source"] == "chart" and a["user_id"] == user_id]


def moscow_midnight(day: datetime) -> datetime:
    """Midnight in Moscow (UTC+3) of ``day``'s date, as naive UTC."""
    return datetime(day.year, day.month, day.day) - timedelta(hours=3)


def test_a_chart_entry_added_on_the_portal_becomes_an_absence_with_the_head_as_deputy(
        app: Flask, sim: Simulator, t0: datetime) -> None:
    first = (t0 + timedelta(days=10)).date()
    with sim.transaction() as ctx:
        entry_id = add_absence(ctx, FEDOROV, first, first + timedelta(days=4), "VACATION",
                               "Отпуск")
    [row] = imported(app, FEDOROV)
    assert row["chart_entry_id"] == entry_id
    assert row["kind"] == "vacation" and row["note"] == "Отпуск"
    assert row["deputy_id"] == TORG_HEAD  # no standing deputy: his department head
    assert row["start"] == moscow_midnight(datetime.combine(first, datetime.min.time()))
    # The chart's last day is inclusive: the absence ends at the next midnight.
    assert row["end"] == moscow_midnight(datetime.combine(first + timedelta(days=5),
                                                          datetime.min.time()))
    assert row["state"] == "planned"


def test_the_standing_deputy_is_preferred_and_a_head_gets_their_own_head(
        app: Flask, client: FlaskClient, sim: Simulator, t0: datetime) -> None:
    client.put(f"/api/v1/deputies/{FEDOROV}", json={"deputy_id": NIKITINA},
               headers=token(app, FEDOROV))
    day = (t0 + timedelta(days=3)).date()
    with sim.transaction() as ctx:
        add_absence(ctx, FEDOROV, day, day, "LEAVESICK")
        add_absence(ctx, TORG_HEAD, day, day, "ASSIGNMENT")
    [fedorov] = imported(app, FEDOROV)
    [morozov] = imported(app, TORG_HEAD)
    assert (fedorov["deputy_id"], fedorov["kind"]) == (NIKITINA, "sick_leave")
    # Morozov heads Torg-Koms himself: the head of Sales above him covers.
    assert (morozov["deputy_id"], morozov["kind"]) == (SALES_HEAD, "business_trip")


def test_changes_on_the_chart_move_the_dates_and_keep_what_was_set_here(
        app: Flask, client: FlaskClient, sim: Simulator, t0: datetime) -> None:
    first = (t0 + timedelta(days=10)).date()
    with sim.transaction() as ctx:
        entry_id = add_absence(ctx, FEDOROV, first, first + timedelta(days=4))
    [row] = imported(app, FEDOROV)
    edited = client.patch(f"/api/v1/absences/{row['id']}", headers=token(app, ADMIN),
                          json={"deputy_id": GRIGORIEVA})
    assert edited.status_code == 200
    with sim.transaction() as ctx:
        update_absence(ctx, entry_id, date_to=first + timedelta(days=7))
    [row] = imported(app, FEDOROV)
    assert row["deputy_id"] == GRIGORIEVA
    assert row["end"] == moscow_midnight(datetime.combine(first + timedelta(days=8),
                                                          datetime.min.time()))
    with sim.transaction() as ctx:
        delete_absence(ctx, entry_id)
    assert imported(app, FEDOROV) == []


def test_an_entry_starting_now_is_active_at_once(app: Flask, sim: Simulator,
                                                 t0: datetime) -> None:
    with sim.transaction() as ctx:
        add_absence(ctx, FEDOROV, sim.to_portal_iso(t0 - timedelta(hours=2)),
                    sim.to_portal_iso(t0 + timedelta(hours=6)), "OTHER", "Doctor")
    [row] = imported(app, FEDOROV)
    assert row["state"] == "active" and row["end"] == t0 + timedelta(hours=6)


# -- the REST way: no events, the tick polls calendar.accessibility.get ----------------------
def _quietly(sim: Simulator, statement: object) -> None:
    """Change the chart behind the extension's back (as a REST portal does: no event)."""
    with sim.engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def test_the_poll_adds_changes_and_deletes_like_the_events(
        app: Flask, client: FlaskClient, sim: Simulator, t0: datetime) -> None:
    A = calendar_tables.absences
    start = t0 + timedelta(days=20)
    _quietly(sim, A.insert().values(id=500, user_id=GRIGORIEVA, date_from=start,
                                    date_to=start + timedelta(days=2), absence_type="VACATION",
                                    name="Отпуск", date_modify=t0))
    assert imported(app, GRIGORIEVA) == []
    counts = tick(app, poll=True)
    [row] = imported(app, GRIGORIEVA)
    assert row["chart_entry_id"] == 500 and row["kind"] == "vacation"
    assert row["deputy_id"] == TORG_HEAD and counts["chart_created"] >= 1
    # The demo chart's own upcoming vacation (Nikitina) came in with the same poll.
    assert len(imported(app, NIKITINA)) == 1
    assert tick(app, poll=True)["chart_updated"] == 0
    _quietly(sim, update(A).where(A.c.id == 500).values(date_to=start + timedelta(days=4)))
    assert tick(app, poll=True)["chart_updated"] == 1
    assert imported(app, GRIGORIEVA)[0]["end"] == start + timedelta(days=4)
    _quietly(sim, delete(A).where(A.c.id == 500))
    assert tick(app, poll=True)["chart_deleted"] == 1
    assert imported(app, GRIGORIEVA) == []


def test_the_tick_reads_the_chart_only_when_due(app: Flask, client: FlaskClient,
                                                sim: Simulator, t0: datetime) -> None:
    A = calendar_tables.absences
    assert "chart_created" in tick(app, poll=None)  # never read before: due
    _quietly(sim, A.insert().values(id=501, user_id=FEDOROV, date_from=t0 + timedelta(days=5),
                                    date_to=t0 + timedelta(days=6), absence_type="VACATION",
                                    name="", date_modify=t0))
    assert "chart_created" not in tick(app, poll=None)  # read a moment ago
    freeze(client, t0 + timedelta(minutes=10))
    tick(app, poll=None)
    assert [r["chart_entry_id"] for r in imported(app, FEDOROV)] == [501]


def test_a_deleted_entry_takes_its_temporary_access_with_it(
        app: Flask, client: FlaskClient, sim: Simulator, t0: datetime) -> None:
    with sim.transaction() as ctx:
        entry_id = add_absence(ctx, FEDOROV, sim.to_portal_iso(t0 - timedelta(hours=1)),
                               sim.to_portal_iso(t0 + timedelta(days=2)))
    [row] = imported(app, FEDOROV)
    client.patch(f"/api/v1/absences/{row['id']}", headers=token(app, ADMIN),
                 json={"temporary_access": True, "deputy_id": GRIGORIEVA})
    tick(app)
    assert sim.call("crm.access.list", {})["result"][0]["USER_ID"] == str(GRIGORIEVA)
    with sim.transaction() as ctx:
        delete_absence(ctx, entry_id)
    assert imported(app, FEDOROV) == []
    assert sim.call("crm.access.list", {})["result"] == []


@pytest.fixture
def http_portal(sim: Simulator) -> Iterator[PortalClient]:
    """The same portal reached over real HTTP (fast_bitrix24 on a loopback server)."""
    httpd = make_server("127.0.0.1", 0, create_simulator_app(sim), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    client = PortalClient(HttpTransport(f"http://127.0.0.1:{httpd.server_port}/rest/1/"
                                        f"{sim.webhook_token}/", timeout=10))
    yield client
    client.close()
    httpd.shutdown()
    thread.join(5)


def test_over_rest_the_clock_and_the_chart_come_from_the_portal(
        app: Flask, sim: Simulator, http_portal: PortalClient, t0: datetime) -> None:
    A = calendar_tables.absences
    _quietly(sim, A.insert().values(id=502, user_id=GRIGORIEVA, date_from=t0,
                                    date_to=t0 + timedelta(days=3), absence_type="ASSIGNMENT",
                                    name="Командировка", date_modify=t0))
    with app.app_context():
        forget_portal_time()
        now = portal_now(http_portal)
        assert now == t0  # the frozen portal clock, not the host's
        counts = poll_chart(portal=current_portal(), client=http_portal, now=now)
        db.session.commit()
    assert counts["created"] >= 1
    [row] = imported(app, GRIGORIEVA)
    assert (row["kind"], row["state"], row["end"]) == ("business_trip", "active",
                                                       t0 + timedelta(days=3))

"""What the absence tests share: the demo portal's people, API tokens, the portal's clock,
the reconcile tick, and reading the extension's absences the way a user would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal_ext.absences.models import Absence, AbsenceStamp
from portal_ext.absences.tasks import reconcile_absences
from portal_ext.extensions import db
from portal_ext.portal.clock import portal_now
from portal_ext.portal.registration import client_for, current_portal
from simulator import Simulator

# The demo portal (fixtures/demo/portal.yaml): user ids and e-mails.
ADMIN, CEO, SALES_HEAD, TORG_HEAD, NIKITINA, FEDOROV, GRIGORIEVA = 1, 2, 3, 4, 5, 6, 7
LIFT_HEAD, SMIRNOVA, KUZNETSOV, MARKETING_HEAD, ORLOV = 8, 9, 10, 11, 12
EMAILS = {ADMIN: "admin@demo.portal", TORG_HEAD: "s.morozov@demo.portal",
          NIKITINA: "o.nikitina@demo.portal", FEDOROV: "a.fedorov@demo.portal",
          GRIGORIEVA: "m.grigorieva@demo.portal", LIFT_HEAD: "i.pavlov@demo.portal",
          SMIRNOVA: "e.smirnova@demo.portal", KUZNETSOV: "r.kuznetsov@demo.portal",
          SALES_HEAD: "i.belyaeva@demo.portal"}


def token(app: Flask, user_id: int) -> dict[str, str]:
    """An ``Authorization`` header with a fresh API token of the demo user ``user_id``."""
    result = app.test_cli_runner().invoke(args=["token", "create", EMAILS[user_id]])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.stdout.strip()}"}


def freeze(client: FlaskClient, when: datetime) -> None:
    """Move the portal's clock the way a tester does: ``POST /_sim/clock`` (naive UTC)."""
    answer = client.post("/_sim/clock", json={"now": when.isoformat() + "+00:00",
                                               "frozen": True})
    assert answer.status_code == 200, answer.get_data(as_text=True)


def start_of_hour(sim: Simulator) -> datetime:
    return sim.clock.now().replace(minute=0, second=0, microsecond=0)


def iso(value: datetime) -> str:
    """Naive UTC as ISO 8601 with an explicit offset, as an API client would send it."""
    return value.isoformat() + "+00:00"


def tick(app: Flask, *, poll: bool | None = False) -> dict[str, int]:
    """One reconcile tick at the portal's time (the chart is not read unless asked)."""
    with app.app_context():
        portal = current_portal()
        client = client_for(portal)
        return reconcile_absences(portal=portal, client=client, now=portal_now(client),
                                  poll=poll)


def absences(app: Flask) -> list[dict[str, Any]]:
    """Every stored absence as plain values, oldest first."""
    with app.app_context():
        rows = db.session.scalars(select(Absence).order_by(Absence.id))
        return [{"id": a.id, "user_id": a.user_id, "start": a.start, "end": a.end,
                 "kind": a.kind, "deputy_id": a.deputy_id, "note": a.note, "state": a.state,
                 "source": a.source, "chart_entry_id": a.chart_entry_id,
                 "access_user_id": a.access_user_id, "access_granted": a.access_granted_at
                 is not None, "access_error": a.access_error} for a in rows]


def absence(app: Flask, absence_id: int) -> dict[str, Any]:
    return next(a for a in absences(app) if a["id"] == absence_id)


def stored_state(app: Flask) -> tuple[int, int]:
    """(number of absences, stamp version): both unchanged when nothing was saved."""
    with app.app_context():
        count = db.session.scalar(select(func.count(Absence.id))) or 0
        version = db.session.scalar(select(func.max(AbsenceStamp.version))) or 0
        return int(count), int(version)


def grants(sim: Simulator) -> set[tuple[int, int]]:
    """(reader, owner) pairs of the portal's temporary read grants."""
    rows = sim.call("crm.access.list", {})["result"]
    return {(int(r["USER_ID"]), int(r["OWNER_ID"])) for r in rows}


def week(start: datetime) -> tuple[datetime, datetime]:
    return start, start + timedelta(days=7)

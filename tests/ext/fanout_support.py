"""What the fan-out tests share: recording absences and teams as an administrator would, and
reading the simulated portal's inboxes the way a person looks at them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from babel.dates import format_date
from flask import Flask
from sqlalchemy import select

from portal_ext.absences.services import AbsenceInput, create_absence
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.notifications.models import Delivery
from portal_ext.notifications.sources import COPY_TAG_PREFIX
from portal_ext.notifications.teams import create_team
from portal_ext.portal.clock import host_utcnow, portal_zone
from portal_ext.portal.registration import current_portal
from simulator import Simulator
from simulator.im import tables as im_tables
from tests.clock import PORTAL_ZONE

# The demo portal (simulator/scenarios/demo.py): 1 the administrator, 4 head of Torg-Koms,
# 5 Nikitina, 6 Fedorov, 7 Grigorieva (sales, Torg-Koms), 9 Smirnova, 10 Kuznetsov (TK-Lift).
ADMIN, HEAD, NIKITINA, FEDOROV, GRIGORIEVA, SMIRNOVA, KUZNETSOV = 1, 4, 5, 6, 7, 9, 10
WEEK = timedelta(days=7)


def day_month(when: datetime, locale: str = "en") -> str:
    """A naive UTC instant's day in the portal's zone as copies write it: ``14 Dec``, or
    ``14 дек.`` in Russian."""
    return format_date(when.replace(tzinfo=UTC).astimezone(PORTAL_ZONE), "d MMM", locale=locale)


def freeze(sim: Simulator, when: datetime) -> None:
    sim.clock.set(when, frozen=True)


def record_absence(app: Flask, user_id: int, deputy_id: int | None, start: datetime,
                   end: datetime, *, now: datetime | None = None) -> int:
    with app.app_context():
        portal = current_portal()
        admin = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_id == portal.id, PortalUser.portal_user_id == ADMIN)).one()
        absence = create_absence(
            portal=portal, actor=admin,
            data=AbsenceInput(user_id=user_id, start=start, end=end, kind="vacation",
                              deputy_id=deputy_id),
            now=now or start - timedelta(days=1), tz=portal_zone())
        return int(absence.id)


def record_team(app: Flask, name: str, kinds: list[str], members: list[int]) -> int:
    with app.app_context():
        team = create_team(portal=current_portal(), actor=None, name=name, kinds=kinds,
                           members=members,
                           now=host_utcnow())
        return int(team.id)


def inbox(sim: Simulator, user_id: int) -> list[dict[str, Any]]:
    """The user's notifications, oldest first."""
    n = im_tables.notifications
    with sim.engine.connect() as conn:
        rows = conn.execute(select(n).where(n.c.user_id == user_id).order_by(n.c.id)).mappings()
        return [dict(row) for row in rows]


def copies(sim: Simulator, user_id: int) -> list[dict[str, Any]]:
    return [n for n in inbox(sim, user_id) if (n["tag"] or "").startswith(COPY_TAG_PREFIX)]


def deliveries(app: Flask) -> list[Delivery]:
    with app.app_context():
        rows = list(db.session.scalars(select(Delivery).order_by(Delivery.id)))
        db.session.expunge_all()
        return rows


def add_lead(sim: Simulator, title: str, assignee: int, *, by: int = ADMIN) -> int:
    return int(sim.call("crm.lead.add", {"fields": {"TITLE": title, "ASSIGNED_BY_ID": assignee}},
                        user_id=by)["result"])


class Outage:
    """The portal refusing ``batch`` calls (HTTP 503 QUERY_LIMIT_EXCEEDED) while ``down``:
    installed as the extension's in-process transport."""

    def __init__(self, app: Flask) -> None:
        from portal_ext.portal.registration import close_clients

        self.app = app
        self.down = True
        self.refused = 0
        self._dispatch = app.config["PORTAL_DISPATCH"]
        app.config["PORTAL_DISPATCH"] = self.dispatch
        close_clients(app)

    def dispatch(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from portal_ext.portal.errors import PortalError

        if self.down and method == "batch":
            self.refused += 1
            raise PortalError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
        envelope: dict[str, Any] = self._dispatch(method, params)
        return envelope


def tick(app: Flask) -> dict[str, int]:
    """The periodic notifications tick, as the scheduler runs it."""
    from portal_ext.notifications.tasks import notifications_tick

    with app.app_context():
        return notifications_tick()


API_EMAILS = {ADMIN: "admin@demo.portal", HEAD: "s.morozov@demo.portal",
              NIKITINA: "o.nikitina@demo.portal", FEDOROV: "a.fedorov@demo.portal",
              GRIGORIEVA: "m.grigorieva@demo.portal", SMIRNOVA: "e.smirnova@demo.portal"}


def bearer(app: Flask, user_id: int) -> dict[str, str]:
    result = app.test_cli_runner().invoke(args=["token", "create", API_EMAILS[user_id]])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.stdout.strip()}"}


def body(answer: Any) -> Any:
    """A JSON answer's body (the API always answers JSON)."""
    assert answer.is_json, answer.get_data(as_text=True)
    return answer.json

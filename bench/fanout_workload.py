"""The portal, the people, the absences, the teams and the burst of notifications that
bench/fanout.py and tests/ext/test_fanout_worker.py push through the fan-out.

The portal has ``USERS`` people (simulator generator). The first ``OWNERS`` salespeople
receive the notifications, round robin; the first ``absences`` of them are away for the whole
week with a deputy among the others (who are present); the owners form teams of
``team_size`` sharing new leads and incoming e-mails. Notifications cycle through six portal
kinds (a lead, a deal, a task assigned, a deadline, an e-mail, a comment), each sent by the
administrator, so the teams share one in three.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select

from portal_ext.absences.models import Absence, AbsenceStamp
from portal_ext.directory.services import sync_directory
from portal_ext.events.models import DONE, FAILED, InboxEvent
from portal_ext.extensions import db
from portal_ext.notifications.models import PENDING, SENT, Delivery, Team, TeamMember
from portal_ext.notifications.sources import COPY_TAG_PREFIX
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import client_for, current_portal
from simulator import Simulator
from simulator.calendar import tables as calendar_tables
from simulator.im import tables as im_tables
from simulator.scenarios.generator import generate

USERS = 320
OWNERS = 200
FIRST = 3  # user 1 administers, 2 heads the company: salespeople start at 3
START = datetime(2026, 12, 7, 7, 0)  # the portal's frozen clock during a burst (naive UTC)
KINDS = [("crm_assigned", "LEAD"), ("crm_assigned", "DEAL"), ("task_assigned", "TASK"),
         ("task_deadline_soon", "TASK"), ("email_incoming", "DEAL"), ("task_comment", "TASK")]
SHARED = ["new_lead", "incoming_email"]
CHUNK = 100  # notifications per portal transaction (their events are published together)


@dataclass(frozen=True)
class Workload:
    absences: int
    team_size: int

    @property
    def owners(self) -> list[int]:
        return list(range(FIRST, FIRST + OWNERS))

    def deputy_of(self, user_id: int) -> int:
        return FIRST + OWNERS + (user_id - FIRST) % (USERS - FIRST - OWNERS + 1)


def new_portal(url: str) -> Simulator:
    sim = Simulator(url, webhook_token="bench")
    sim.reset()
    sim.clock.set(START, frozen=True)
    generate(sim, companies=0, activities=0, leads=0, deals=0, tasks=0, users=USERS,
             progress=False)
    # The workload's absences are the ones ``prepare`` records. The generator's absence chart
    # would add more at the first tick that reads it, so the copies due would depend on when
    # that tick runs.
    with sim.engine.begin() as conn:
        conn.execute(delete(calendar_tables.absences))
    return sim


def prepare(app: Flask, workload: Workload) -> None:
    """Sync the people; record the absences and teams straight in the database (the services
    would check the same rules one by one; here only the state matters)."""
    with app.app_context():
        portal = current_portal()
        sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())
        now = host_utcnow()
        for user_id in workload.owners[:workload.absences]:
            db.session.add(Absence(
                portal_id=portal.id, user_id=user_id, start=START - timedelta(days=1),
                end=START + timedelta(days=7), kind="vacation",
                deputy_id=workload.deputy_of(user_id), note="", recorded_by_id=1,
                recorded_at=now, updated_at=now, state="active", source="manual"))
        db.session.merge(AbsenceStamp(portal_id=portal.id, version=int(time.time())))
        owners = workload.owners
        for number, first in enumerate(range(0, len(owners), workload.team_size)):
            members = owners[first:first + workload.team_size]
            if len(members) < 2:
                continue
            team = Team(portal_id=portal.id, name=f"Team {number + 1}", kinds=SHARED,
                        created_at=now, updated_at=now)
            team.members = [TeamMember(portal_id=portal.id, portal_user_id=m) for m in members]
            db.session.add(team)
        db.session.commit()


def publish(sim: Simulator, workload: Workload, count: int, *, offset: int = 0) -> None:
    """Send ``count`` portal notifications, as the portal does (each publishes its event)."""
    owners = workload.owners
    for first in range(offset, offset + count, CHUNK):
        with sim.transaction() as ctx:
            for number in range(first, min(first + CHUNK, offset + count)):
                kind, entity = KINDS[number % len(KINDS)]
                ctx.notify(owners[number % len(owners)], f"Notification {number}", kind=kind,
                           entity_type=entity, entity_id=number + 1, from_user_id=1,
                           notify_type="system")


def progress(app: Flask) -> dict[str, int]:
    """Inbox rows not finished, deliveries by state."""
    with app.app_context():
        open_events = db.session.scalar(select(func.count(InboxEvent.id)).where(
            InboxEvent.state.not_in((DONE, FAILED)))) or 0
        states = dict(db.session.execute(select(Delivery.state, func.count(Delivery.id))
                                         .group_by(Delivery.state)).all())
        received = db.session.scalar(select(func.count(InboxEvent.id)).where(
            InboxEvent.event_name == "ONIMNOTIFYADD")) or 0
        db.session.remove()
    return {"open_events": open_events, "pending": states.get(PENDING, 0),
            "sent": states.get(SENT, 0), "failed": states.get("failed", 0),
            "received": received}


def wait_until_settled(app: Flask, *, expected_events: int, timeout: float,
                       nudge: Any = None) -> dict[str, int]:
    """Poll until every expected event is in and done and no delivery is pending.
    ``nudge()`` (e.g. a reconcile tick) runs about once a second while waiting."""
    deadline = time.monotonic() + timeout
    last_nudge = time.monotonic()
    while True:
        state = progress(app)
        if state["received"] >= expected_events and state["open_events"] == 0 \
                and state["pending"] == 0:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"not settled after {timeout} s: {state}")
        if nudge is not None and time.monotonic() - last_nudge > 1.0:
            nudge()
            last_nudge = time.monotonic()
        time.sleep(0.02)


def copies_by_tag(sim: Simulator) -> dict[str, int]:
    """How many notifications carry each copy tag, in every inbox of the portal."""
    n = im_tables.notifications
    with sim.engine.connect() as conn:
        rows = conn.execute(select(n.c.tag, func.count(n.c.id))
                            .where(n.c.tag.like(COPY_TAG_PREFIX + "%")).group_by(n.c.tag)).all()
    return {tag: count for tag, count in rows}

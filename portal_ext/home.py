"""What each person's home page shows, gathered from the domains (the dashboard only renders
it). Nothing here writes.

- everyone: their own absences (away now, the next one), their deputy, and the items they
  have handed over to someone;
- a deputy (whoever covers someone now or is named for an absence ahead): whom they cover and
  until when, with a link to the cover list, and what they hold for others;
- a head: who of the departments they head is away today and later this week, and their
  people's runs that wait for them (conflicts, failed items, failed runs);
- an administrator: the portal connection, the queues (events waiting in the inbox, copies
  waiting in the outbox, and how long the oldest has waited) and anything failed (events,
  copies, runs), plus dismissed users waiting for a transfer.

Days and weeks are the portal's (``PORTAL_TIMEZONE``), "now" is the portal's clock (the
request's context, portal_ext.context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, select

from portal_ext.absences import services as absences
from portal_ext.absences.models import Absence
from portal_ext.context import Context
from portal_ext.directory.access import overseen_departments
from portal_ext.directory.models import PortalUser
from portal_ext.events.models import FAILED as EVENT_FAILED
from portal_ext.events.models import PENDING as EVENT_PENDING
from portal_ext.events.models import PROCESSING as EVENT_PROCESSING
from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.handover.report import RunLine, run_lines
from portal_ext.moves.models import (
    APPLIED,
    APPLYING,
    HANDOVER,
    KINDS,
    RESTORING,
    SCHEDULED,
)
from portal_ext.notifications.log import Backlog, outbox_backlog
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.models import Portal
from portal_ext.transfers.report import waiting

HANDED_OVER = (SCHEDULED, APPLYING, APPLIED, RESTORING)  # items away, or about to be


def day_start(day: date, tz: tzinfo) -> datetime:
    """The naive UTC instant a day of the portal's calendar begins."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


@dataclass
class Mine:
    outlook: absences.Outlook
    handed_over: list[RunLine]


@dataclass
class Covering:
    now: list[Absence]  # covered by the viewer at this moment, ending soonest first
    ahead: list[Absence]  # absences ahead naming the viewer as deputy
    holding: list[RunLine]  # handovers whose items the viewer holds now

    @property
    def any(self) -> bool:
        return bool(self.now or self.ahead or self.holding)


@dataclass
class Department:
    people: int
    today: list[Absence]
    later_this_week: list[Absence]
    attention: list[RunLine]


@dataclass
class Health:
    inbox: Backlog
    outbox: Backlog
    failed_runs: list[RunLine]
    waiting_dismissals: int


@dataclass
class Home:
    now: datetime  # the portal's time
    tz: tzinfo
    stamped_now: datetime  # the host's time, which stored stamps (a queue's oldest) are on
    mine: Mine
    covering: Covering
    department: Department | None = None
    health: Health | None = None
    names: dict[int, str] = field(default_factory=dict)

    def age(self, since: datetime | None) -> timedelta | None:
        """How long ago a stored (host clock) stamp was."""
        return None if since is None else max(timedelta(0), self.stamped_now - since)


def mine(portal: Portal, viewer: PortalUser, now: datetime) -> Mine:
    me = viewer.portal_user_id
    return Mine(absences.outlook(portal_id=portal.id, user_id=me, now=now),
                run_lines(portal.id, kinds=(HANDOVER,), owners=[me], states=HANDED_OVER,
                          limit=5))


def covering(portal: Portal, viewer: PortalUser, now: datetime) -> Covering:
    me = viewer.portal_user_id
    holding = [line for line in run_lines(portal.id, kinds=(HANDOVER,), holder=me,
                                          states=(APPLYING, APPLIED), limit=10)
               if line.holding]
    return Covering(absences.covered_by(portal_id=portal.id, deputy_id=me, at=now),
                    absences.covering_ahead(portal_id=portal.id, deputy_id=me, now=now,
                                            limit=5),
                    holding)


def department(portal: Portal, viewer: PortalUser, now: datetime, tz: tzinfo
               ) -> Department | None:
    """The departments ``viewer`` heads (None: none)."""
    scope = overseen_departments(portal, viewer)
    if not scope:
        return None
    members = [(uid, bool(active)) for uid, depts, active in db.session.execute(
        select(PortalUser.portal_user_id, PortalUser.department_ids, PortalUser.active).where(
            PortalUser.portal_id == portal.id))
        if scope.intersection(depts or []) and uid != viewer.portal_user_id]
    people = [uid for uid, active in members if active]
    everyone = [uid for uid, _active in members]  # the dismissed too: their transfers
    today = now.replace(tzinfo=UTC).astimezone(tz).date()
    tomorrow = day_start(today + timedelta(days=1), tz)
    week_end = day_start(today + timedelta(days=7 - today.weekday()), tz)  # next Monday
    away_today = absences.away_between(portal_id=portal.id, user_ids=people,
                                       start=day_start(today, tz), end=tomorrow)
    later = [a for a in absences.away_between(portal_id=portal.id, user_ids=people,
                                              start=tomorrow, end=week_end)
             if a.start >= tomorrow]
    return Department(len(people), away_today, later,
                      run_lines(portal.id, kinds=KINDS, owners=everyone, problems_only=True,
                                limit=10))


def inbox_backlog(portal: Portal) -> Backlog:
    """Portal events received and not yet handled, and the ones that failed."""
    counts = dict(db.session.execute(select(InboxEvent.state, func.count()).where(
        InboxEvent.portal_id == portal.id,
        InboxEvent.state.in_((EVENT_PENDING, EVENT_PROCESSING, EVENT_FAILED)))
        .group_by(InboxEvent.state)).all())
    oldest = db.session.scalar(select(func.min(InboxEvent.received_at)).where(
        InboxEvent.portal_id == portal.id,
        InboxEvent.state.in_((EVENT_PENDING, EVENT_PROCESSING))))
    return Backlog(int(counts.get(EVENT_PENDING, 0)) + int(counts.get(EVENT_PROCESSING, 0)),
                   oldest, int(counts.get(EVENT_FAILED, 0)))


def health(portal: Portal) -> Health:
    pending, never_recorded = waiting(portal.id)
    return Health(inbox_backlog(portal), outbox_backlog(portal),
                  run_lines(portal.id, kinds=KINDS, problems_only=True, limit=10),
                  len(pending) + len(never_recorded))


def home_for(ctx: Context, *, role: str) -> Home:
    """Everything the home page of ``ctx``'s actor shows (see the module docstring)."""
    viewer = ctx.actor
    if viewer is None:
        raise ValueError("a home page is someone's: the context has no actor")
    portal, now, tz = ctx.portal, ctx.now, ctx.tz
    home = Home(now, tz, host_utcnow(), mine(portal, viewer, now), covering(portal, viewer, now))
    if role in ("head", "admin"):
        home.department = department(portal, viewer, now, tz)
    if role == "admin":
        home.health = health(portal)
    home.names = ctx.names()
    return home

"""The daily digest: one portal notification per manager with overdue clients.

At the configured hour (portal time; ``digest_hour`` in the settings, None switches it off)
every manager whose companies are overdue gets one message (``im.notify.system.add``) in
their own language (portal_ext.i18n.reader_language): the overdue clients, most overdue first,
each with a "plan a call" link to the extension's confirmation page (the link itself changes
nothing). A manager with nothing overdue gets nothing.

Which day a run sends for: the latest portal day whose digest hour has passed (before the
hour, yesterday). Every digest sent is recorded per manager and portal day
(``CadenceDigest``), so a day is sent at most once: a run that missed the hour (the service
was down) sends it late, once; the next runs find it recorded. A portal that refuses the
message leaves nothing recorded, so the next run tries again; the notification's ``TAG``
names the manager and the day, so the portal shows a repeated one only once.

Worked example: the digest hour is 9. At 08:50 on Tuesday the run looks at Monday: sent at
09:00 on Monday, nothing to do. The service is down from 08:55 to 10:30; at 10:30 the run looks
at Tuesday, finds it unsent, and sends it (late, once); at 10:31 it finds it recorded.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from flask_babel import force_locale, gettext, ngettext
from sqlalchemy import and_, select

from portal_ext.cadence import services
from portal_ext.cadence.models import CadenceCompany, CadenceDigest
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.i18n import reader_language
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)
MAX_LINES = 30  # clients listed in one message; the rest are counted, with the report's link
TAG = "cadence-digest|{day}|{user}"


def digest_day(now: datetime, tz: tzinfo, hour: int | None) -> date | None:
    """The portal day a run at ``now`` (naive UTC) sends for: today from the digest hour on,
    yesterday before it; None when the digest is off."""
    if hour is None:
        return None
    local = now.replace(tzinfo=UTC).astimezone(tz)
    return local.date() if local.hour >= hour else local.date() - timedelta(days=1)


def overdue_by_manager(portal_id: int, today: date) -> dict[int, list[CadenceCompany]]:
    """Each responsible person's overdue companies, most overdue first."""
    found: dict[int, list[CadenceCompany]] = {}
    for row in db.session.scalars(select(CadenceCompany).where(
            CadenceCompany.portal_id == portal_id, CadenceCompany.category.is_not(None),
            CadenceCompany.responsible_id.is_not(None), CadenceCompany.due_at < today)
            .order_by(CadenceCompany.due_at, CadenceCompany.title, CadenceCompany.company_id)):
        found.setdefault(int(row.responsible_id or 0), []).append(row)
    return found


def plan_link(base_url: str, company_id: int) -> str:
    return f"{base_url.rstrip('/')}/cadence/plan-call?company_id={company_id}"


def message(rows: list[CadenceCompany], *, today: date, language: str, base_url: str) -> str:
    """The digest's text (BB code, as portal notifications take it) in ``language``."""
    with force_locale(language):
        lines = [ngettext("Contact cadence: %(num)s of your clients is overdue for a call or "
                          "an e-mail.",
                          "Contact cadence: %(num)s of your clients are overdue for a call "
                          "or an e-mail.", len(rows))]
        for row in rows[:MAX_LINES]:
            days = (today - row.due_at).days if row.due_at else 0
            overdue = ngettext("%(num)s day overdue", "%(num)s days overdue", days)
            plan = gettext("plan a call")
            lines.append(f"{row.title} ({row.category}), {overdue}: "
                         f"[URL={plan_link(base_url, row.company_id)}]{plan}[/URL]")
        if len(rows) > MAX_LINES:
            report = f"{base_url.rstrip('/')}/cadence/?state=overdue"
            lines.append(gettext("…and %(count)s more in [URL=%(url)s]the report[/URL].",
                                 count=len(rows) - MAX_LINES, url=report))
    return "\n".join(lines)


def send_digests(*, portal: Portal, client: PortalClient, now: datetime, tz: tzinfo,
                 base_url: str) -> dict[str, Any]:
    """Send the digests due at ``now`` that were not sent yet; commits each one."""
    if not services.configured(portal.id):
        return {"sent": 0}
    day = digest_day(now, tz, services.settings_of(portal.id).digest_hour)
    if day is None:
        return {"sent": 0}
    today = now.replace(tzinfo=UTC).astimezone(tz).date()
    done = set(db.session.scalars(select(CadenceDigest.user_id).where(and_(
        CadenceDigest.portal_id == portal.id, CadenceDigest.day == day))))
    wanted = {uid: rows for uid, rows in overdue_by_manager(portal.id, today).items()
              if uid not in done}
    if not wanted:
        return {"sent": 0, "day": day.isoformat()}
    people = {u.portal_user_id: u for u in db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id, PortalUser.portal_user_id.in_(list(wanted))))}
    sent = failed = 0
    for user_id, rows in sorted(wanted.items()):
        person = people.get(user_id)
        if person is None or not person.active:
            continue
        text = message(rows, today=today, language=reader_language(person),
                       base_url=base_url)
        record = CadenceDigest(portal_id=portal.id, user_id=user_id, day=day,
                               overdue=len(rows), sent_at=now)
        db.session.add(record)
        db.session.commit()  # recorded before the portal is asked: never sent twice
        try:
            answer = client.call("im.notify.system.add", {
                "USER_ID": user_id, "MESSAGE": text,
                "TAG": TAG.format(day=day.isoformat(), user=user_id)})
        except PortalError as exc:
            db.session.delete(record)  # not sent: the next run tries again
            db.session.commit()
            log.warning("cadence digest for user %s not sent: %s", user_id, exc)
            failed += 1
            continue
        record.notification_id = answer if isinstance(answer, int) and answer else None
        db.session.commit()
        sent += 1
    return {"sent": sent, "failed": failed, "day": day.isoformat()}

"""Fan-out and delivery: decide who gets copies, record them, send them, retry them.

- :func:`fan_out` takes normalized notifications (sources.Notice), decides the recipients with
  the pure rules against in-memory snapshots (the absence roster, the team index, the names),
  and inserts one pending :class:`Delivery` per copy in one statement. It does not commit: the
  caller's transaction (an inbox event's processing) holds the rows, so a crash leaves neither
  the event done nor half its copies. Re-processing inserts nothing twice (unique key).
- :func:`drain_outbox` claims due deliveries 50 at a time (the portal's ``batch`` limit),
  sends them with ``im.notify.system.add`` and a tag naming the delivery, and records the
  outcome. A copy sent again (the drain died before recording it) replaces the earlier one
  in the recipient's inbox instead of showing twice, because the tag is the same.
- :func:`reconcile_deliveries` fails deliveries whose drains keep dying; the periodic tick
  then drains whatever is due (portal_ext.notifications.tasks).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal_ext.absences.roster import build_roster
from portal_ext.absences.rules import Roster, resolve_cover
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.i18n import LANGUAGES, reader_language
from portal_ext.notifications import index
from portal_ext.notifications.copies import copy_message
from portal_ext.notifications.models import FAILED, PENDING, SENT, Delivery
from portal_ext.notifications.own_moves import caused_by_moves
from portal_ext.notifications.rules import Absent, Reason, Recipient, recipients
from portal_ext.notifications.sources import Notice, copy_tag
from portal_ext.notifications.trigger import request_drain
from portal_ext.portal.client import BATCH_LIMIT, PortalClient
from portal_ext.portal.clock import host_utcnow, portal_zone
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)

INSERT_CHUNK = 500  # rows per INSERT (well under SQLite's bound-parameter limit)
MAX_BACKOFF_SECONDS = 600.0
NOTHING_DELIVERED = "the portal delivered nothing: the recipient is dismissed or unknown"


def _setting(name: str, default: float) -> float:
    return float(current_app.config.get(name, default))


@dataclass(frozen=True)
class FanOut:
    notices: int
    copies: int


def decide(notice: Notice, roster: Roster, teams: index.TeamIndex) -> list[Recipient]:
    """The recipients of one notice (rules.recipients over the snapshots)."""
    at = notice.at

    def away(user_id: int) -> Absent | None:
        absence = roster.absence_at(user_id, at)
        if absence is None:
            return None
        return Absent(until=absence.end, cover=resolve_cover(roster, user_id, at))

    return recipients(owner_id=notice.owner_id, actor_id=notice.actor_id, kind=notice.kind,
                      away=away, teams=teams.teams_of(notice.owner_id), active=roster.active)


def chosen_languages(portal_id: int) -> dict[int, str]:
    """Portal user id -> the language they last chose on the extension's pages (only those who
    chose one)."""
    return {uid: str(language) for uid, language in db.session.execute(
        select(PortalUser.portal_user_id, PortalUser.language).where(
            PortalUser.portal_id == portal_id, PortalUser.language.in_(tuple(LANGUAGES))))}


def fan_out(notices: Sequence[Notice], *, portal: Portal, now: datetime | None = None
            ) -> FanOut:
    """Record the copies of ``notices`` as pending deliveries (no commit) and ask for a drain
    once the caller commits. A notice meant for a dismissed user is not copied (the portal
    delivers nothing to them either), nor one the extension's own mass moves caused
    (portal_ext.notifications.own_moves)."""
    now = now or host_utcnow()
    teams = index.team_index(portal.id)
    names = index.short_names(portal.id)
    tz = portal_zone()
    chosen = chosen_languages(portal.id)
    rows: list[dict[str, Any]] = []
    ours = caused_by_moves(portal.id, notices)  # summarised per run instead
    for notice in notices:
        if notice.key in ours:
            continue
        roster = build_roster(portal_id=portal.id, at=notice.at)
        if notice.owner_id not in roster.active:
            continue
        # Recipients for the same reasons (a team's members) reading the same language read the
        # same copy: write it once.
        texts: dict[tuple[tuple[Reason, ...], str], tuple[str, list[dict[str, Any]]]] = {}
        for recipient in decide(notice, roster, teams):
            language = chosen.get(recipient.user_id) or reader_language(None)
            text = texts.get((recipient.reasons, language))
            if text is None:
                text = texts[(recipient.reasons, language)] = (
                    copy_message(notice, recipient, names=names, tz=tz, language=language),
                    [r.as_dict() for r in recipient.reasons])
            rows.append({
                "portal_id": portal.id, "source_key": notice.key,
                "source_notification_id": notice.notification_id,
                "source_kind": notice.portal_kind, "kind": notice.kind,
                "entity_type": notice.entity_type, "entity_id": notice.entity_id,
                "owner_portal_user_id": notice.owner_id,
                "actor_portal_user_id": notice.actor_id,
                "recipient_portal_user_id": recipient.user_id, "reason": recipient.reason,
                "reason_detail": text[1], "message": text[0],
                "state": PENDING, "attempts": 0, "created_at": now,
            })
    for start in range(0, len(rows), INSERT_CHUNK):
        _insert_new(rows[start:start + INSERT_CHUNK])
    if rows:
        request_drain(portal.id)
    return FanOut(len(notices), len(rows))


def _insert_new(rows: list[dict[str, Any]]) -> None:
    """Insert, skipping copies already recorded (same portal, source and recipient)."""
    dialect = db.session.get_bind().dialect.name
    conflict = ["portal_id", "source_key", "recipient_portal_user_id"]
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        db.session.execute(insert(Delivery.__table__).on_conflict_do_nothing(
            index_elements=conflict), rows)
        return
    known = set(tuple(row) for row in db.session.execute(select(
        Delivery.source_key, Delivery.recipient_portal_user_id).where(
        Delivery.portal_id == rows[0]["portal_id"],
        Delivery.source_key.in_({r["source_key"] for r in rows}))).all())
    fresh = [r for r in rows if (r["source_key"], r["recipient_portal_user_id"]) not in known]
    if fresh:
        db.session.execute(Delivery.__table__.insert(), fresh)


# -- delivery ---------------------------------------------------------------------------------
def _due(portal_id: int, now: datetime) -> Any:
    lease_over = now - timedelta(seconds=_setting("NOTIFY_LEASE_SECONDS", 120.0))
    return and_(Delivery.portal_id == portal_id, Delivery.state == PENDING,
                or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                or_(Delivery.claim_token.is_(None), Delivery.claimed_at < lease_over))


def claim_batch(*, portal: Portal, now: datetime, size: int = BATCH_LIMIT) -> tuple[str, list[Any]]:
    """Claim up to ``size`` due deliveries (committed); returns the claim token and the rows.
    On PostgreSQL concurrent drains skip each other's rows (FOR UPDATE SKIP LOCKED); the
    repeated condition keeps a row from being claimed twice on any database."""
    token = uuid.uuid4().hex
    due = _due(portal.id, now)
    ids = (select(Delivery.id).where(due).order_by(Delivery.id).limit(size)
           .with_for_update(skip_locked=True))
    db.session.execute(update(Delivery).where(Delivery.id.in_(ids.scalar_subquery()), due)
                       .values(claim_token=token, claimed_at=now,
                               attempts=Delivery.attempts + 1)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    rows = db.session.execute(select(Delivery.id, Delivery.recipient_portal_user_id,
                                     Delivery.message, Delivery.attempts)
                              .where(Delivery.claim_token == token)
                              .order_by(Delivery.id)).all()
    return token, list(rows)


def _send(client: PortalClient, rows: list[Any]) -> dict[int, Any]:
    """Send one claimed batch (one ``batch`` request); returns delivery id -> the portal's
    answer or a PortalError. A command the portal refused fails alone, the others stand; a
    request refused for now (transient) fails every delivery in it for now."""
    commands = {row.id: ("im.notify.system.add", {
        "USER_ID": row.recipient_portal_user_id, "MESSAGE": row.message,
        "TAG": copy_tag(row.id)}) for row in rows}
    try:
        return dict(client.batch_each(commands))
    except PortalError as error:
        if error.transient:
            return {row.id: error for row in rows}
    # The request itself was refused: send each command on its own. Those already delivered
    # are replaced, not repeated (same tag).
    outcomes: dict[int, Any] = {}
    for delivery_id, (method, params) in commands.items():
        try:
            outcomes[delivery_id] = client.call(method, params)
        except PortalError as error:
            outcomes[delivery_id] = error
    return outcomes


def _record(token: str, rows: list[Any], outcomes: dict[int, Any], now: datetime
            ) -> dict[str, int]:
    max_attempts = int(_setting("NOTIFY_MAX_ATTEMPTS", 5))
    base = _setting("NOTIFY_RETRY_BASE_SECONDS", 10.0)
    counts = {SENT: 0, FAILED: 0, "retry": 0}
    changes: list[dict[str, Any]] = []
    for row in rows:
        outcome = outcomes.get(row.id, PortalError("ERROR_UNEXPECTED_ANSWER",
                                                   "no answer for this command"))
        change = {"b_id": row.id, "b_tag": copy_tag(row.id), "b_sent_at": None,
                  "b_next": None, "b_error": None, "b_portal_id": None}
        if isinstance(outcome, PortalError):
            change["b_error"] = str(outcome)[:2000]
            if outcome.transient and row.attempts < max_attempts:
                delay = min(base * 2 ** (row.attempts - 1), MAX_BACKOFF_SECONDS)
                change.update(b_state=PENDING, b_next=now + timedelta(seconds=delay))
                counts["retry"] += 1
            else:
                change["b_state"] = FAILED
                counts[FAILED] += 1
        elif outcome in (False, None):
            change.update(b_state=FAILED, b_error=NOTHING_DELIVERED)
            counts[FAILED] += 1
        else:
            change.update(b_state=SENT, b_sent_at=now, b_portal_id=_as_int(outcome))
            counts[SENT] += 1
        changes.append(change)
    table = Delivery.__table__
    db.session.execute(
        table.update().where(table.c.id == bindparam("b_id"),
                             table.c.claim_token == token)
        .values(state=bindparam("b_state"), tag=bindparam("b_tag"),
                sent_at=bindparam("b_sent_at"), next_attempt_at=bindparam("b_next"),
                error=bindparam("b_error"), portal_notification_id=bindparam("b_portal_id"),
                claim_token=None),
        changes)
    db.session.commit()
    return counts


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def drain_outbox(*, portal: Portal, client: PortalClient, max_batches: int | None = None
                 ) -> dict[str, int]:
    """Send every due delivery, a batch of 50 at a time; returns counts of sent, failed and
    retry (failed for now, tried again after a backoff)."""
    totals = {SENT: 0, FAILED: 0, "retry": 0, "batches": 0}
    while max_batches is None or totals["batches"] < max_batches:
        now = host_utcnow()
        token, rows = claim_batch(portal=portal, now=now)
        if not rows:
            break
        outcomes = _send(client, rows)
        for key, value in _record(token, rows, outcomes, host_utcnow()).items():
            totals[key] += value
        totals["batches"] += 1
    return totals


def reconcile_deliveries(*, portal: Portal, now: datetime) -> int:
    """Fail deliveries whose drain died after their last allowed attempt; returns how many.
    (Others whose lease ran out are simply due again: the next drain claims them.)"""
    lease_over = now - timedelta(seconds=_setting("NOTIFY_LEASE_SECONDS", 120.0))
    result = db.session.execute(
        update(Delivery).where(
            Delivery.portal_id == portal.id, Delivery.state == PENDING,
            Delivery.claim_token.is_not(None), Delivery.claimed_at < lease_over,
            Delivery.attempts >= int(_setting("NOTIFY_MAX_ATTEMPTS", 5)))
        .values(state=FAILED, claim_token=None,
                error="the drain sending it stopped too many times (lease expired)")
        .execution_options(synchronize_session=False))
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def due_count(*, portal: Portal, now: datetime) -> int:
    from sqlalchemy import func

    return int(db.session.scalar(select(func.count(Delivery.id))
                                 .where(_due(portal.id, now))) or 0)

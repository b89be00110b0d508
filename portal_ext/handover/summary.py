"""One portal notice per person per run of a mass move, instead of one per item.

When a handover has been applied, the deputy reads::

    43 of Ольга Никитина's items are yours until 23 Dec: deals 12, contacts 31 (handover 7).

When it has been given back, the owner and the deputy each get one notice; when a dismissal
transfer has been applied or undone, each successor gets one. Each notice is written in its
reader's language (portal_ext.i18n.reader_language): the one they last chose on the extension's
pages, else the portal's (``PORTAL_LANGUAGE``).

The notice's tag (``portal_ext:summary:<batch>:<phase>:<user>``) is of the extension's own
family: the fan-out never copies it, and a notice sent again for the same run (a retry of
failed items) replaces the earlier one in the inbox instead of adding another. Nobody
dismissed gets one (the portal delivers nothing to them). Best effort: a portal failure is
logged, the move stands.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from babel.dates import format_date
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from portal_ext.absences.models import Absence
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.i18n import reader_language
from portal_ext.moves.models import (
    APPLIED,
    HANDOVER,
    RESTORED,
    RESTORED_ITEM,
    TRANSFER,
    MoveBatch,
    MoveItem,
)
from portal_ext.moves.types import ENTITY_TYPES, TYPE_NAMES
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import portal_zone
from portal_ext.portal.errors import PortalError

log = logging.getLogger(__name__)
SUMMARY_TAG = "portal_ext:summary:{batch}:{phase}:{user}"


def language_of(user: PortalUser | None) -> str:
    """The reader's language: their own last choice, else the portal's."""
    return reader_language(user)


def _people(portal_id: int, ids: set[int]) -> dict[int, PortalUser]:
    return {u.portal_user_id: u for u in db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal_id, PortalUser.portal_user_id.in_(ids or {0})))}


def _listing(counts: dict[str, int]) -> str:
    """``deals 12, contacts 31`` in the current locale, in the portal's order of kinds."""
    return ", ".join(f"{str(ENTITY_TYPES[name].label).lower()} {counts[name]}"
                     for name in TYPE_NAMES if counts.get(name))


def _counts(batch: MoveBatch, *, restoring: bool, by: Any) -> dict[int, dict[str, int]]:
    """Items of this run per person (``by``: the journal column naming them) and kind."""
    done = MoveItem.state == RESTORED_ITEM if restoring else MoveItem.moved_at.is_not(None)
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for person, entity_type, count in db.session.execute(
            select(by, MoveItem.entity_type, func.count()).where(
                MoveItem.batch_id == batch.id, done).group_by(by, MoveItem.entity_type)):
        out[int(person)][entity_type] = int(count)
    return out


def messages(batch: MoveBatch) -> dict[int, str]:
    """Who gets which summary for the run ``batch`` has just finished (none if it moved
    nothing)."""
    restoring = batch.state == RESTORED
    if batch.state not in (APPLIED, RESTORED) or batch.kind not in (HANDOVER, TRANSFER):
        return {}
    per_holder = _counts(batch, restoring=restoring, by=MoveItem.to_user_id)
    people = _people(batch.portal_id, {batch.owner_id, *per_holder})
    owner = people.get(batch.owner_id)
    owner_name = owner.full_name if owner is not None else f"#{batch.owner_id}"
    absence = db.session.get(Absence, batch.absence_id) if batch.absence_id else None
    out: dict[int, str] = {}
    for user_id, counts in per_holder.items():
        reader = people.get(user_id)
        if reader is None or not reader.active or not sum(counts.values()):
            continue
        language = language_of(reader)
        with force_locale(language):
            out[user_id] = _holder_text(batch, counts, owner_name, absence, language,
                                        restoring=restoring)
    if restoring and batch.kind == HANDOVER and owner is not None and owner.active:
        total: dict[str, int] = defaultdict(int)
        for counts in per_holder.values():
            for name, count in counts.items():
                total[name] += count
        if sum(total.values()):
            with force_locale(language_of(owner)):
                out[batch.owner_id] = gettext(
                    "Welcome back: %(count)s of your items are with you again: %(list)s "
                    "(handover %(id)s).", count=sum(total.values()), list=_listing(total),
                    id=batch.id)
    return out


def _holder_text(batch: MoveBatch, counts: dict[str, int], owner_name: str,
                 absence: Absence | None, language: str, *, restoring: bool) -> str:
    count, listing = sum(counts.values()), _listing(counts)
    if batch.kind == TRANSFER:
        if restoring:
            return gettext("%(count)s items of %(name)s you had taken over went back: "
                           "%(list)s (transfer %(id)s undone).", count=count, name=owner_name,
                           list=listing, id=batch.id)
        return gettext("%(count)s of %(name)s's items are yours now: %(list)s "
                       "(transfer %(id)s).", count=count, name=owner_name, list=listing,
                       id=batch.id)
    if restoring:
        return gettext("%(count)s of %(name)s's items went back to them: %(list)s "
                       "(handover %(id)s).", count=count, name=owner_name, list=listing,
                       id=batch.id)
    if absence is not None:
        from portal_ext.notifications.copies import last_day

        day = format_date(last_day(absence.end, portal_zone()), "d MMM", locale=language)
        return gettext("%(count)s of %(name)s's items are yours until %(day)s: %(list)s "
                       "(handover %(id)s).", count=count, name=owner_name, day=day,
                       list=listing, id=batch.id)
    return gettext("%(count)s of %(name)s's items are yours while they are away: %(list)s "
                   "(handover %(id)s).", count=count, name=owner_name, list=listing,
                   id=batch.id)


def send_summaries(batch: MoveBatch, *, client: PortalClient) -> int:
    """Send the run's summaries (one ``batch`` request); how many the portal took."""
    texts = messages(batch)
    if not texts:
        return 0
    phase = "restore" if batch.state == RESTORED else "apply"
    commands = {f"s{user_id}": ("im.notify.system.add", {
        "USER_ID": user_id, "MESSAGE": text,
        "TAG": SUMMARY_TAG.format(batch=batch.id, phase=phase, user=user_id)})
        for user_id, text in texts.items()}
    try:
        answers = dict(client.batch_each(commands))
    except PortalError as exc:
        log.warning("batch %s: summaries not sent: %s", batch.id, exc)
        return 0
    sent = 0
    for key, answer in answers.items():
        if isinstance(answer, PortalError):
            log.warning("batch %s: summary %s not sent: %s", batch.id, key, answer)
        else:
            sent += 1
    return sent


CONFLICT_TAG = "portal_ext:summary:{batch}:conflicts:{user}"


def conflicts_text(batch: MoveBatch, items: list[MoveItem], holders: dict[int, str],
                   owner: PortalUser) -> str:
    """What the owner reads about the items others held when theirs came back, in the owner's
    language: how many of which kind, and who holds them."""
    counts: dict[str, int] = defaultdict(int)
    by_holder: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item.entity_type] += 1
        holder = (item.note or "").rpartition(":")[2]
        name = holders.get(int(holder)) if holder.isdigit() else None
        by_holder[name or "?"] += 1
    with force_locale(language_of(owner)):
        return gettext(
            "%(count)s of your items did not come back with the others, because someone else "
            "had taken them while you were away: %(list)s. They are with: %(holders)s. Ask them "
            "or an administrator if you need them back (handover %(id)s).",
            count=len(items), list=_listing(counts),
            holders=", ".join(f"{name} ({count})" for name, count in by_holder.items()),
            id=batch.id)


def tell_owner(batch: MoveBatch, items: list[MoveItem], *, client: PortalClient) -> bool:
    """One portal notice to the owner about ``items`` (the give-back's conflicts). Sent again,
    it replaces the earlier one (the same tag). False: the owner is gone or nothing to say."""
    people = _people(batch.portal_id, {batch.owner_id})
    owner = people.get(batch.owner_id)
    if owner is None or not owner.active or not items:
        return False
    holder_ids = set()
    for item in items:
        holder = (item.note or "").rpartition(":")[2]
        if holder.isdigit():
            holder_ids.add(int(holder))
    holders = {uid: p.full_name for uid, p in _people(batch.portal_id, holder_ids).items()}
    client.call("im.notify.system.add", {
        "USER_ID": batch.owner_id, "MESSAGE": conflicts_text(batch, items, holders, owner),
        "TAG": CONFLICT_TAG.format(batch=batch.id, user=batch.owner_id)})
    return True

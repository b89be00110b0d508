"""Notifications the extension's own mass moves caused, which the fan-out does not copy.

A handover, its give-back, a dismissal transfer and its undo change the responsible of many
items. Where the portal cannot be told to keep quiet (tasks, smart invoices; see
docs/handover.md) it notifies the new responsible of each item, and over REST the extension
derives the same notices from the update events. None of them is copied to a deputy or a
team: the people concerned get one summary of the whole run instead
(portal_ext.handover.summary).

A notice counts as caused by a move when it tells its owner they are now responsible for an
item (``crm_assigned``, ``task_assigned``) that a move batch gave to them, and either the batch
is still moving it (the journal is written after the portal: the notice may come first) or
the journal records that move within ``MOVE_WINDOW`` of the notice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, tuple_

from portal_ext.extensions import db
from portal_ext.moves.models import (
    APPLYING,
    MOVED,
    PLANNED,
    RESTORED_ITEM,
    RESTORING,
    MoveBatch,
    MoveItem,
)
from portal_ext.notifications.sources import Notice

# A journal row about one item: (from, to, item state, batch state, moved at, restored at).
Move = tuple[int, int, str, str, datetime | None, datetime | None]
ASSIGNMENT_KINDS = frozenset({"crm_assigned", "task_assigned"})
MOVE_WINDOW = timedelta(minutes=15)
_QUERY_CHUNK = 400


def _entity(notice: Notice) -> tuple[str, int] | None:
    if notice.portal_kind not in ASSIGNMENT_KINDS or notice.entity_id is None \
            or not notice.entity_type:
        return None
    return notice.entity_type.lower(), int(notice.entity_id)


def caused_by_moves(portal_id: int, notices: Sequence[Notice]) -> set[str]:
    """The keys of ``notices`` that report one of the extension's own moves."""
    wanted = {n.key: e for n in notices if (e := _entity(n)) is not None}
    if not wanted:
        return set()
    pairs = sorted(set(wanted.values()))
    moves: dict[tuple[str, int], list[Move]] = {}
    for start in range(0, len(pairs), _QUERY_CHUNK):
        chunk = pairs[start:start + _QUERY_CHUNK]
        rows = db.session.execute(select(
            MoveItem.entity_type, MoveItem.entity_id, MoveItem.from_user_id,
            MoveItem.to_user_id, MoveItem.state, MoveBatch.state, MoveItem.moved_at,
            MoveItem.restored_at).join(MoveBatch, MoveBatch.id == MoveItem.batch_id).where(
            MoveItem.portal_id == portal_id,
            tuple_(MoveItem.entity_type, MoveItem.entity_id).in_(chunk),
            or_(MoveBatch.state.in_((APPLYING, RESTORING)), MoveItem.moved_at.is_not(None))))
        for etype, eid, giver, taker, item_state, batch_state, moved_at, restored_at in rows:
            moves.setdefault((etype, int(eid)), []).append(
                (int(giver), int(taker), item_state, batch_state, moved_at, restored_at))
    caused: set[str] = set()
    for notice in notices:
        entity = wanted.get(notice.key)
        if entity is None:
            continue
        for move in moves.get(entity, ()):
            if _explains(notice, *move):
                caused.add(notice.key)
                break
    return caused


def _near(notice: Notice, when: datetime | None) -> bool:
    return when is not None and abs(notice.at - when) <= MOVE_WINDOW


def _explains(notice: Notice, giver: int, taker: int, item_state: str, batch_state: str,
              moved_at: datetime | None, restored_at: datetime | None) -> bool:
    owner = notice.owner_id
    if owner == taker:  # handed over (or transferred) to the notice's owner
        return (batch_state == APPLYING and item_state == PLANNED) or _near(notice, moved_at)
    if owner == giver:  # given back to the notice's owner
        return (batch_state == RESTORING and item_state == MOVED) or (
            item_state == RESTORED_ITEM and _near(notice, restored_at))
    return False

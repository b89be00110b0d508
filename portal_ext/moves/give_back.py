"""Giving back, anyway, the items a give-back left alone (``conflict``: someone other than the
person they went to held them then): the owner asked for them back.

Each conflict item is re-read first: one still held by someone is written back to its owner
(as a give-back writes it: the responsible, the previous-responsible field cleared); one the
owner has again already is simply journaled as given back; one gone is ``missing``. A write
the portal refuses leaves the item a conflict (the note says why), so the action can be taken
again. Only ``conflict`` items are touched: taking the action twice moves nothing twice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from portal_ext.extensions import db
from portal_ext.moves.engine import NOTE_DELETED, _int, _note, _Way
from portal_ext.moves.models import (
    CONFLICT,
    MISSING,
    RESTORED,
    RESTORED_ITEM,
    MoveBatch,
    MoveItem,
)
from portal_ext.moves.portal_calls import current_rows
from portal_ext.moves.types import ENTITY_TYPES
from portal_ext.portal.client import PortalClient

NOTE_ANYWAY = "given back anyway"


@dataclass
class GivenBack:
    returned: int = 0  # written back to the owner now
    already: int = 0  # the owner had it again
    missing: int = 0  # deleted on the portal
    failed: int = 0  # the portal refused; still a conflict


def conflicts(batch: MoveBatch) -> list[MoveItem]:
    """The batch's items left alone by its give-back (someone else held them)."""
    return list(db.session.scalars(select(MoveItem).where(
        MoveItem.batch_id == batch.id, MoveItem.state == CONFLICT).order_by(MoveItem.id)))


def give_back_anyway(batch: MoveBatch, *, client: PortalClient, now: datetime,
                     item_ids: Collection[int] | None = None) -> GivenBack:
    """Write the conflict items (``item_ids``: some of them; None: all) back to the owner;
    committed. A batch not given back (``restored``) has no conflicts to settle."""
    done = GivenBack()
    if batch.state != RESTORED:
        return done
    items = [i for i in conflicts(batch) if item_ids is None or i.id in item_ids]
    if not items:
        return done
    wanted: dict[str, list[int]] = {}
    for item in items:
        wanted.setdefault(item.entity_type, []).append(item.entity_id)
    current = current_rows(client, wanted)
    fields: dict[str, Any] = dict((batch.options or {}).get("uf_fields") or {})
    ways = {name: _Way(ENTITY_TYPES[name], fields.get(name), current[name]) for name in wanted}
    outcome: dict[int, tuple[str, str | None]] = {}
    commands: dict[str, Any] = {}
    for item in items:
        way = ways[item.entity_type]
        row = way.current.get(item.entity_id)
        if row is None:
            outcome[item.id] = (MISSING, NOTE_DELETED)
            done.missing += 1
        elif _int(row.get(way.responsible_key)) == item.from_user_id:
            outcome[item.id] = (RESTORED_ITEM, NOTE_ANYWAY)
            done.already += 1
        else:
            commands[f"g{item.id}"] = (way.method, way.template.format(
                item.entity_id, item.from_user_id, ""))
    if commands:
        errors = client.run_batch(commands).errors
        for item in items:
            key = f"g{item.id}"
            if key not in commands:
                continue
            error = errors.get(key)
            if error is None:
                outcome[item.id] = (RESTORED_ITEM, NOTE_ANYWAY)
                done.returned += 1
            else:
                outcome[item.id] = (CONFLICT, _note(error))
                done.failed += 1
    table = MoveItem.__table__
    for item_id, (state, note) in outcome.items():
        values: dict[str, Any] = {"state": state, "note": note}
        if state == RESTORED_ITEM:
            values["restored_at"] = now
        db.session.execute(update(table).where(table.c.id == item_id).values(**values))
    db.session.commit()
    return done

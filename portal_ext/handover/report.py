"""What a handover (or any move batch) did, per type, with links to the portal's items.

Counted per type: ``planned`` (waiting to move), ``moved`` (ever handed over: still with the
deputy, or given back since), ``restored``, ``conflicts`` (someone else holds the item now; it
was left alone), ``skipped`` (not ours to move: reassigned before the handover reached it),
``missing`` (deleted on the portal) and ``failed`` (the portal refused; the note says why).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, func, select

from portal_ext.absences.cover import PortalLinks
from portal_ext.extensions import db
from portal_ext.moves.engine import (
    NOTE_DELETED,
    NOTE_HOLDER,
    NOTE_NEW_LEAD,
    NOTE_NO_SUCCESSOR,
    NOTE_STOPPED,
)
from portal_ext.moves.models import (
    CONFLICT,
    FAILED,
    FAILED_ITEM,
    MISSING,
    MOVED,
    PLANNED,
    RESTORED_ITEM,
    SKIPPED,
    MoveBatch,
    MoveItem,
)
from portal_ext.moves.portal_text import clean, explained
from portal_ext.moves.types import ENTITY_TYPES, PREFIX_TYPES

COLUMNS = ("planned", "moved", "restored", "conflicts", "skipped", "missing", "failed")
_STATE_COLUMN = {PLANNED: "planned", RESTORED_ITEM: "restored", CONFLICT: "conflicts",
                 SKIPPED: "skipped", MISSING: "missing", FAILED_ITEM: "failed"}
PROBLEMS = (CONFLICT, MISSING, FAILED_ITEM, SKIPPED)


@dataclass
class ReportItem:
    entity_type: str
    entity_id: int
    title: str
    state: str
    note: str | None
    link: str | None
    from_user_id: int
    to_user_id: int
    why: str = ""  # the note as a sentence, in the reader's language
    portal_message: str | None = None  # a failed item: the portal's words, as plain text
    deleted: bool = False  # gone from the portal: shown as deleted, not as a live link

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Report:
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # type -> column -> n
    problems: list[ReportItem] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return {c: sum(r.get(c, 0) for r in self.rows.values()) for c in COLUMNS}


def item_link(item: MoveItem, links: PortalLinks) -> str | None:
    kind = ENTITY_TYPES.get(item.entity_type)
    if kind is None:
        return None
    if kind.crm_type_id is not None:
        return links.crm(kind.crm_type_id, item.entity_id)
    if item.entity_type == "task":
        return links.task(item.entity_id, item.to_user_id)
    if item.owner_ref:  # an activity: its owner's page, where the portal shows it
        prefix, _, owner = item.owner_ref.rpartition("_")
        type_id = PREFIX_TYPES.get(prefix)
        return links.crm(type_id, int(owner)) if type_id and owner.isdigit() else None
    return None


def explain(note: str | None, names: dict[int, str] | None = None) -> str:
    """A journal note as a sentence for people."""
    if not note:
        return ""
    if note.startswith(NOTE_HOLDER):
        holder = note[len(NOTE_HOLDER):]
        name = (names or {}).get(int(holder)) if holder.isdigit() else None
        return _("now with %(name)s", name=name or f"#{holder}")
    fixed = {NOTE_DELETED: _("deleted on the portal"),
             NOTE_NO_SUCCESSOR: _("nobody to hand it to"),
             NOTE_STOPPED: _("the handover was stopped before this item moved"),
             NOTE_NEW_LEAD: _("a new lead that reached the deputy during the absence")}
    if note in fixed:
        return fixed[note]
    sentence = explained(note)  # a refusal of the portal the extension knows
    return str(sentence) if sentence is not None else clean(note)


def report_item(item: MoveItem, links: PortalLinks,
                names: dict[int, str] | None = None) -> ReportItem:
    return ReportItem(item.entity_type, item.entity_id, item.title or f"#{item.entity_id}",
                      item.state, item.note, item_link(item, links), item.from_user_id,
                      item.to_user_id, explain(item.note, names),
                      clean(item.note) if item.state == FAILED_ITEM else None)


def build_report(batch: MoveBatch, links: PortalLinks, *, names: dict[int, str] | None = None,
                 problem_limit: int = 200) -> Report:
    was_moved = case((MoveItem.moved_at.is_not(None), 1), else_=0)
    report = Report(rows={name: dict.fromkeys(COLUMNS, 0) for name in batch.types})
    for entity_type, state, count, moved in db.session.execute(
            select(MoveItem.entity_type, MoveItem.state, func.count(), func.sum(was_moved))
            .where(MoveItem.batch_id == batch.id)
            .group_by(MoveItem.entity_type, MoveItem.state)):
        row = report.rows.setdefault(entity_type, dict.fromkeys(COLUMNS, 0))
        row["moved"] += int(moved or 0)
        column = _STATE_COLUMN.get(state)
        if column:
            row[column] += int(count)
    problems = db.session.scalars(select(MoveItem).where(
        MoveItem.batch_id == batch.id, MoveItem.state.in_(PROBLEMS))
        .order_by(MoveItem.entity_type, MoveItem.id).limit(problem_limit))
    report.problems = [report_item(item, links, names) for item in problems]
    return report


def samples(batch: MoveBatch, links: PortalLinks, *, per_type: int = 5
            ) -> dict[str, list[ReportItem]]:
    """The first few items of each type, for the preview."""
    out: dict[str, list[ReportItem]] = {}
    for name in batch.types:
        items = db.session.scalars(select(MoveItem).where(
            MoveItem.batch_id == batch.id, MoveItem.entity_type == name,
            MoveItem.state == PLANNED).order_by(MoveItem.id).limit(per_type))
        out[name] = [report_item(item, links) for item in items]
    return out


def state_counts(batch_id: int, *, moved_only: bool = False) -> dict[str, int]:
    """Items per journal state (``moved_only``: the ones that had moved, a give-back's)."""
    query = (select(MoveItem.state, func.count()).where(MoveItem.batch_id == batch_id)
             .group_by(MoveItem.state))
    if moved_only:
        query = query.where(MoveItem.moved_at.is_not(None))
    return {state: int(count) for state, count in db.session.execute(query)}


def planned_by_type(batch_id: int) -> dict[str, int]:
    """Items waiting to move, per type (what a confirmation counts)."""
    rows = db.session.execute(
        select(MoveItem.entity_type, func.count()).where(
            MoveItem.batch_id == batch_id, MoveItem.state == PLANNED)
        .group_by(MoveItem.entity_type))
    return {name: int(count) for name, count in rows}


def per_person(batch_id: int) -> dict[int, int]:
    """Items of a run (any move batch) per person they go to: everything journaled but the
    skipped, in the order of who gets most."""
    rows = db.session.execute(
        select(MoveItem.to_user_id, func.count()).where(
            MoveItem.batch_id == batch_id, MoveItem.state != SKIPPED)
        .group_by(MoveItem.to_user_id))
    found = {int(user_id): int(count) for user_id, count in rows}
    return dict(sorted(found.items(), key=lambda pair: (-pair[1], pair[0])))


@dataclass
class RunLine:
    """One run (a handover or a transfer) in a few numbers, for the home pages."""

    batch: MoveBatch
    holding: int = 0  # items with the person they went to now (not given back)
    planned: int = 0  # items still to move
    conflicts: int = 0  # left alone: someone else holds them now
    failed: int = 0  # the portal refused them

    @property
    def needs_attention(self) -> bool:
        return bool(self.conflicts or self.failed or self.batch.state == FAILED)


def run_lines(portal_id: int, *, kinds: Collection[str], owners: Collection[int] | None = None,
              holder: int | None = None, states: Collection[str] | None = None,
              problems_only: bool = False, limit: int = 20) -> list[RunLine]:
    """The latest runs of ``kinds`` (newest first): of ``owners`` (portal user ids; None:
    anyone's), or whose items went to ``holder``, in ``states``; ``problems_only`` keeps those
    with conflicts, failed items or a failed state."""
    query = select(MoveBatch).where(MoveBatch.portal_id == portal_id,
                                    MoveBatch.kind.in_(list(kinds)))
    if owners is not None:
        query = query.where(MoveBatch.owner_id.in_(list(owners) or [0]))
    if holder is not None:
        query = query.where(MoveBatch.id.in_(select(MoveItem.batch_id).where(
            MoveItem.to_user_id == holder).distinct()))
    if states is not None:
        query = query.where(MoveBatch.state.in_(list(states)))
    batches = list(db.session.scalars(query.order_by(MoveBatch.id.desc()).limit(
        limit * 5 if problems_only else limit)))
    lines = {b.id: RunLine(b) for b in batches}
    if lines:
        counted = select(MoveItem.batch_id, MoveItem.state, func.count()).where(
            MoveItem.batch_id.in_(list(lines)))
        if holder is not None:
            counted = counted.where(MoveItem.to_user_id == holder)
        for batch_id, state, count in db.session.execute(
                counted.group_by(MoveItem.batch_id, MoveItem.state)):
            line = lines[batch_id]
            if state == MOVED:
                line.holding += int(count)
            elif state == PLANNED:
                line.planned += int(count)
            elif state == CONFLICT:
                line.conflicts += int(count)
            elif state == FAILED_ITEM:
                line.failed += int(count)
    found = [lines[b.id] for b in batches]
    if problems_only:
        found = [line for line in found if line.needs_attention]
    return found[:limit]

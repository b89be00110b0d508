"""What a transfer moved where: counts per successor and type, the list of dismissed users
waiting for a transfer, and the JSON shape of a transfer (the API and the progress page)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.moves import progress
from portal_ext.moves.models import SKIPPED, TRANSFER, MoveBatch, MoveItem
from portal_ext.transfers import rules
from portal_ext.transfers.models import PENDING, Dismissal
from portal_ext.transfers.services import undo_until


def per_successor(batch_id: int) -> dict[int, dict[str, int]]:
    """Successor -> entity type -> items (everything journaled but the skipped)."""
    found: dict[int, dict[str, int]] = {}
    for to_user_id, entity_type, count in db.session.execute(
            select(MoveItem.to_user_id, MoveItem.entity_type, func.count())
            .where(MoveItem.batch_id == batch_id, MoveItem.state != SKIPPED)
            .group_by(MoveItem.to_user_id, MoveItem.entity_type)):
        found.setdefault(int(to_user_id), {})[entity_type] = int(count)
    return found


def successor_rows(batch: MoveBatch) -> list[dict[str, Any]]:
    """One row per successor: what they receive per type and, for a spread, their load
    before; candidates of a spread who receive nothing are listed too."""
    received = per_successor(batch.id)
    shares = {int(s["user_id"]): s for s in
              ((batch.options or {}).get("decision") or {}).get("successors", [])}
    rows = []
    for user_id in [*received, *(u for u in shares if u not in received)]:
        got = received.get(user_id, {})
        share = shares.get(user_id) or {}
        rows.append({"user_id": user_id, "received": got, "total": sum(got.values()),
                     "load_before": share.get("load_before")})
    return rows


def transfer_of(portal_id: int, batch_id: int) -> MoveBatch | None:
    batch = db.session.get(MoveBatch, batch_id)
    if batch is None or batch.portal_id != portal_id or batch.kind != TRANSFER:
        return None
    return batch


def can_undo(batch: MoveBatch, *, now: datetime, days: int) -> bool:
    return rules.may_undo(batch.state, batch.applied_at, now=now, days=days)


def transfer_json(batch: MoveBatch, *, now: datetime, days: int,
                  iso: Any = lambda t: t.isoformat() if t else None) -> dict[str, Any]:
    options = batch.options or {}
    decision = options.get("decision") or {}
    status = progress(batch)
    return {
        "id": batch.id, "state": batch.state, "user_id": batch.owner_id,
        "automatic": options.get("auto"), "strategy": options.get("strategy"),
        "types": batch.types, "include_closed": bool(options.get("include_closed")),
        "request": options.get("request"), "counts": dict(batch.counts or {}),
        "per_successor": {str(k): v for k, v in per_successor(batch.id).items()},
        "successors": decision.get("successors", []), "skipped": decision.get("skipped", []),
        "progress": status, "by_state": status["by_type"], "failed": status["failed"],
        "created_by": batch.created_by, "created_at": iso(batch.created_at),
        "applied_at": iso(batch.applied_at), "restored_at": iso(batch.restored_at),
        "undo_until": iso(undo_until(batch, days)),
        "can_undo": can_undo(batch, now=now, days=days)}


def waiting(portal_id: int) -> tuple[list[Dismissal], list[PortalUser]]:
    """Dismissals waiting for an administrator, and dismissed users never recorded as such
    (dismissed before the extension was installed)."""
    inactive = select(PortalUser.portal_user_id).where(
        PortalUser.portal_id == portal_id, PortalUser.active.is_(False))
    pending = list(db.session.scalars(select(Dismissal).where(  # re-hired: not waiting
        Dismissal.portal_id == portal_id, Dismissal.state == PENDING,
        Dismissal.user_id.in_(inactive))
        .order_by(Dismissal.detected_at.desc(), Dismissal.id.desc())))
    recorded = select(Dismissal.user_id).where(Dismissal.portal_id == portal_id)
    others = list(db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal_id, PortalUser.active.is_(False),
        PortalUser.portal_user_id.not_in(recorded))
        .order_by(PortalUser.last_name, PortalUser.name)))
    return pending, others


def recent_transfers(portal_id: int, limit: int = 100) -> list[MoveBatch]:
    return list(db.session.scalars(select(MoveBatch).where(
        MoveBatch.portal_id == portal_id, MoveBatch.kind == TRANSFER)
        .order_by(MoveBatch.id.desc()).limit(limit)))


def total_items(counts: Mapping[str, Any] | None) -> int:
    return sum(int(v or 0) for v in (counts or {}).values())

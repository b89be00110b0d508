"""The move journal: one ``MoveBatch`` per handover (absence) or transfer (dismissal), one
``MoveItem`` per portal item it moves. Only the move engine's package writes these tables
(portal_ext.moves); the domains drive it through its public functions and read the journal
for their reports.

People are *portal* user ids. The journal is the source of truth for resuming: an item is
``planned`` until the portal has it with its new responsible, then ``moved``; a restore turns
``moved`` into ``restored``, ``conflict`` (someone else holds it now) or ``missing`` (deleted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db

HANDOVER, TRANSFER = "handover", "transfer"
KINDS = (HANDOVER, TRANSFER)

# Batch states. ``scheduled``: a confirmed handover waiting for its absence to start.
PREVIEW, APPLYING, APPLIED = "preview", "applying", "applied"
RESTORING, RESTORED, FAILED, CANCELLED = "restoring", "restored", "failed", "cancelled"
SCHEDULED = "scheduled"
BATCH_STATES = (PREVIEW, SCHEDULED, APPLYING, APPLIED, RESTORING, RESTORED, FAILED, CANCELLED)
LIVE_STATES = (PREVIEW, SCHEDULED, APPLYING, APPLIED, RESTORING)

# Item states.
PLANNED, MOVED, RESTORED_ITEM = "planned", "moved", "restored"
CONFLICT, MISSING, SKIPPED, FAILED_ITEM = "conflict", "missing", "skipped", "failed"
ITEM_STATES = (PLANNED, MOVED, RESTORED_ITEM, CONFLICT, MISSING, SKIPPED, FAILED_ITEM)


class MoveBatch(db.Model):  # type: ignore[name-defined]
    __tablename__ = "move_batch"
    __table_args__ = (
        # While a batch is live its ``live_key`` (e.g. "absence:12") is set: a second handover
        # of the same absence cannot be created, even by two requests at once.
        UniqueConstraint("portal_id", "live_key"),
        Index("ix_move_batch_portal_state", "portal_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=HANDOVER)
    state: Mapped[str] = mapped_column(String(16), default=PREVIEW)
    owner_id: Mapped[int] = mapped_column(Integer)  # portal user whose items move
    to_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # one successor
    # The absence a handover belongs to. Deleting the absence settles the handover first
    # (portal_ext.handover.settle); the key never points at a deleted (or reused) id.
    absence_id: Mapped[int | None] = mapped_column(
        ForeignKey("absence.id", ondelete="SET NULL"), nullable=True, index=True)
    live_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # {"types": [...], "include_closed": bool, "include_new_leads": bool,
    #  "uf_fields": {type: field name or None} once the portal's fields were ensured}
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: a policy
    created_at: Mapped[datetime] = mapped_column(DateTime)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    restored_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # planned per type
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # One worker at a time moves a batch's items: it holds the lease until ``lease_until``
    # (host time). A worker killed mid-chunk simply lets the lease run out.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # {"t": host epoch seconds, "done": items done then, "rate": smoothed items/s}
    pace: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    @property
    def types(self) -> list[str]:
        return list((self.options or {}).get("types") or [])

    def __repr__(self) -> str:
        return f"<MoveBatch {self.id} {self.kind} {self.state} owner={self.owner_id}>"


class MoveItem(db.Model):  # type: ignore[name-defined]
    __tablename__ = "move_item"
    __table_args__ = (
        UniqueConstraint("batch_id", "entity_type", "entity_id"),
        Index("ix_move_item_batch_state", "batch_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("move_batch.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(16))  # lead ... task (moves.types)
    entity_id: Mapped[int] = mapped_column(Integer)
    from_user_id: Mapped[int] = mapped_column(Integer)
    to_user_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=PLANNED)
    moved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    restored_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Where the item lives on the portal when it has no page of its own: an activity's owner
    # ("D_12"), the way CRM bindings name items.
    owner_ref: Mapped[str | None] = mapped_column(String(24), nullable=True)

    def __repr__(self) -> str:
        return (f"<MoveItem {self.entity_type} {self.entity_id} {self.from_user_id}->"
                f"{self.to_user_id} {self.state}>")

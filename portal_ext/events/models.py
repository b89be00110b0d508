"""The inbox: every portal event the extension accepted, once (unique idempotency key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db

PENDING, PROCESSING, DONE, FAILED = "pending", "processing", "done", "failed"
STATES = (PENDING, PROCESSING, DONE, FAILED)
SOURCES = ("inprocess", "webhook", "offline")


class InboxEvent(db.Model):  # type: ignore[name-defined]
    __tablename__ = "inbox_event"
    __table_args__ = (
        UniqueConstraint("portal_id", "idempotency_key"),
        Index("ix_inbox_event_state_received", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    event_name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16))  # inprocess | webhook | offline
    entity_type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    entity_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Normalized: {"event", "data", "ts", "actor_id", "before", "after", "origin"}.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Lease of the worker processing it; reconcile() takes back leases older than a timeout.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Earliest time of the next attempt after a failure (backoff).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<InboxEvent {self.id} {self.event_name} {self.state}>"

"""A portal this deployment serves, and how it is reached (its registration)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db


class Portal(db.Model):  # type: ignore[name-defined]
    __tablename__ = "portal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    mode: Mapped[str] = mapped_column(String(16), default="simulated")  # simulated | rest
    base_url: Mapped[str] = mapped_column(String(500), default="")
    webhook_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Expected auth[application_token] of incoming event webhooks (Bitrix24 safe-event-handlers).
    application_token: Mapped[str | None] = mapped_column(String(255), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    client_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    member_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The offline-queue batch read but not yet confirmed (event.offline.get's process_id): after
    # a crash the next poll asks for it again, so no record is lost (portal_ext.events.offline).
    offline_process_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    def __repr__(self) -> str:
        return f"<Portal {self.id} {self.name or self.base_url}>"

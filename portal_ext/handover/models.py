"""What the handover keeps besides the move journal (portal_ext.moves.models): the portal-wide
handover policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db


class HandoverPolicy(db.Model):  # type: ignore[name-defined]
    """The portal-wide policy: when an absence starts, hand the absent user's client base to
    the deputy by itself (no preview), and give it back when the absence ends."""

    __tablename__ = "handover_policy"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    types: Mapped[list[str]] = mapped_column(JSON, default=list)
    include_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    include_new_leads: Mapped[bool] = mapped_column(Boolean, default=True)
    # Only absences at least this many days long (a day off does not move a client base).
    min_days: Mapped[int] = mapped_column(Integer, default=3)
    updated_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

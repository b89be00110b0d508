"""What the dismissal transfers keep besides the move engine's batches (portal_ext.handover):
the portal-wide policy, the dismissals seen, and the automatic changes of responsible.

People are portal user ids, as in the rest of the extension. A transfer itself is a
``MoveBatch`` of kind ``transfer`` whose ``options`` hold the strategy, the successors and the
decision (portal_ext.transfers.services).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db

# What happens when the portal dismisses someone (TransferPolicy.on_dismissal).
CONFIRM, AUTOMATIC = "confirm", "automatic"
ON_DISMISSAL: tuple[str, ...] = (CONFIRM, AUTOMATIC)
# The successor of automatic actions (TransferPolicy.strategy).
HEAD, PERSON = "head", "person"
AUTO_STRATEGIES: tuple[str, ...] = (HEAD, PERSON)
# Dismissal.state
PENDING, TRANSFERRED, CLOSED = "pending", "transferred", "closed"
# Where a dismissal was noticed (Dismissal.source).
EVENT, SYNC, ADMIN = "event", "sync", "admin"
# Why an automatic change of responsible happened (AutoChange.reason).
BY_DISMISSAL, BY_ABSENCE = "dismissal", "absence"


class TransferPolicy(db.Model):  # type: ignore[name-defined]
    """One row per portal; a portal without a row has the defaults below."""

    __tablename__ = "transfer_policy"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    # confirm: a dismissal waits for an administrator; automatic: the whole client base moves
    # at once with ``strategy``.
    on_dismissal: Mapped[str] = mapped_column(String(16), default=CONFIRM)
    # Automatic mode (seed 004): companies of the user and their contacts get a new manager
    # at once, on dismissal and, when ``auto_on_absence``, on an absence mark too.
    auto_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_on_absence: Mapped[bool] = mapped_column(Boolean, default=False)
    strategy: Mapped[str] = mapped_column(String(16), default=HEAD)
    successor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    include_closed: Mapped[bool] = mapped_column(Boolean, default=True)  # seed 002
    updated_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Dismissal(db.Model):  # type: ignore[name-defined]
    """A user the portal dismissed (or an administrator chose to transfer), and whether their
    client base has been transferred. Re-hiring and dismissing again reopens the row."""

    __tablename__ = "transfer_dismissal"
    __table_args__ = (UniqueConstraint("portal_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)  # portal user id
    detected_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(16), default=EVENT)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    # When the policy's automatic actions ran for it (None: not yet; the tick retries).
    acted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    transfer_batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    closed_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class AutoChange(db.Model):  # type: ignore[name-defined]
    """One automatic change of responsible for a user's companies and their contacts.
    ``source_id`` is the dismissal's or the absence's id, so one source changes once."""

    __tablename__ = "transfer_auto_change"
    __table_args__ = (UniqueConstraint("portal_id", "reason", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # dismissal | absence
    source_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)  # whose companies
    successor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # An absence's change is given back when the absence ends.
    restored_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)

"""Teams (who shares which notifications) and deliveries (the outbox and the delivery log).

A :class:`Delivery` is one copy of one portal notification for one recipient. It is written
by the fan-out (state ``pending``), sent by the drain through ``im.notify.system.add``
(``sent``), retried with backoff, and ``failed`` after the last attempt. The row stays as the
log entry. It is unique on (portal, source key, recipient): processing the same portal event
again finds the row there and creates no second copy.
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal_ext.extensions import db
from portal_ext.notifications.kinds import TEAM_KINDS

PENDING, SENT, FAILED = "pending", "sent", "failed"
DELIVERY_STATES: tuple[str, ...] = (PENDING, SENT, FAILED)

__all__ = ["DELIVERY_STATES", "FAILED", "PENDING", "SENT", "TEAM_KINDS", "Delivery",
           "ResponsibleSnapshot", "Team", "TeamMember"]


class Team(db.Model):  # type: ignore[name-defined]
    __tablename__ = "notification_team"
    __table_args__ = (UniqueConstraint("portal_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # Team kinds (portal_ext.notifications.kinds.TEAM_KINDS) the members share.
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamMember.id")

    @property
    def member_ids(self) -> list[int]:
        return [m.portal_user_id for m in self.members]

    def __repr__(self) -> str:
        return f"<Team {self.id} {self.name}>"


class TeamMember(db.Model):  # type: ignore[name-defined]
    __tablename__ = "notification_team_member"
    __table_args__ = (UniqueConstraint("team_id", "portal_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("notification_team.id", ondelete="CASCADE"),
                                         index=True)
    portal_user_id: Mapped[int] = mapped_column(Integer, index=True)

    team: Mapped[Team] = relationship(back_populates="members")


class Delivery(db.Model):  # type: ignore[name-defined]
    __tablename__ = "notification_delivery"
    __table_args__ = (
        # Named explicitly: the generated name would pass PostgreSQL's 63 characters.
        UniqueConstraint("portal_id", "source_key", "recipient_portal_user_id",
                         name="uq_notification_delivery_source_recipient"),
        # The drain's question: what is due now?
        Index("ix_notification_delivery_due", "state", "next_attempt_at"),
        Index("ix_notification_delivery_log", "portal_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    # What was copied: a stable key of the source notification (see sources.Notice.key), the
    # portal's notification id when it is known (in-process), its kinds and its subject.
    source_key: Mapped[str] = mapped_column(String(200))
    source_notification_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source_kind: Mapped[str] = mapped_column(String(40))  # the portal's kind
    kind: Mapped[str] = mapped_column(String(40))  # the team kind
    entity_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    entity_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_portal_user_id: Mapped[int] = mapped_column(Integer)
    actor_portal_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recipient_portal_user_id: Mapped[int] = mapped_column(Integer, index=True)
    # deputy | team | deputy+team, and every reason in full (rules.Reason.as_dict()).
    reason: Mapped[str] = mapped_column(String(16))
    reason_detail: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text)  # the copy's text, as it will be sent
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    tag: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The portal's id of the copy (im.notify.system.add's answer).
    portal_notification_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Lease of the drain sending it; a lease older than NOTIFY_LEASE_SECONDS is taken back.
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return (f"<Delivery {self.id} {self.source_key} -> {self.recipient_portal_user_id} "
                f"{self.state}>")


class ResponsibleSnapshot(db.Model):  # type: ignore[name-defined]
    """Who was last seen responsible for a CRM item or task (REST mode only).

    The portal's update events carry only the id (api-reference/events/index.md) and
    ``ONTASKUPDATE``'s FIELDS_BEFORE holds nothing but the ID, so telling "the responsible
    changed" from any other edit needs the last value seen.
    """

    __tablename__ = "notification_responsible"
    __table_args__ = (UniqueConstraint("portal_id", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(Integer)
    responsible_portal_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime)

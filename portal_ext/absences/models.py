"""Absences, standing deputies, and the per-portal stamp that tells caches an absence changed.

People are named by their *portal* user ids (``PortalUser.portal_user_id``), as the portal and
its events name them. Times are naive UTC; an absence covers ``[start, end)``: an absence "until
14 Dec" inclusive ends at 15 Dec 00:00 in the portal's time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from flask_babel import force_locale, gettext
from sqlalchemy import (
    Boolean,
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

VACATION, SICK_LEAVE, BUSINESS_TRIP, OTHER = "vacation", "sick_leave", "business_trip", "other"
KINDS: tuple[str, ...] = (VACATION, SICK_LEAVE, BUSINESS_TRIP, OTHER)
PLANNED, ACTIVE, FINISHED = "planned", "active", "finished"
STATES: tuple[str, ...] = (PLANNED, ACTIVE, FINISHED)
MANUAL, CHART = "manual", "chart"  # where an absence came from


def state_at(start: datetime, end: datetime, now: datetime) -> str:
    """What an absence's state should be at ``now`` (the reconcile tick makes it so)."""
    if now < start:
        return PLANNED
    return ACTIVE if now < end else FINISHED


class Absence(db.Model):  # type: ignore[name-defined]
    __tablename__ = "absence"
    __table_args__ = (
        UniqueConstraint("portal_id", "chart_entry_id"),
        Index("ix_absence_portal_user_period", "portal_id", "user_id", "start", "end"),
        Index("ix_absence_portal_state", "portal_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)  # portal user id of the absent person
    start: Mapped[datetime] = mapped_column(DateTime)
    end: Mapped[datetime] = mapped_column(DateTime)  # exclusive
    kind: Mapped[str] = mapped_column(String(20), default=VACATION)
    deputy_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # portal user id
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # portal user id
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(16), default=PLANNED)
    source: Mapped[str] = mapped_column(String(16), default=MANUAL)  # manual | chart
    # The portal's absence-chart entry an imported absence follows, and what it last said
    # (start/end/name), so a poll can tell a changed entry from an unchanged one.
    chart_entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    chart_signature: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Temporary read access of the deputy to the absent user's clients (optional).
    temporary_access: Mapped[bool] = mapped_column(Boolean, default=False)
    access_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # granted to
    access_granted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    access_error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def last_day(self, tz: tzinfo) -> date:
        """The last calendar day of the absence in ``tz`` (the end is exclusive)."""
        return _local(self.end - timedelta(microseconds=1), tz).date()

    def first_day(self, tz: tzinfo) -> date:
        return _local(self.start, tz).date()

    def away_until_label(self, tz: tzinfo | None = None, locale: str | None = None) -> str:
        """``away until 14 Dec`` in the portal's time zone (``tz``, default: the portal's)."""
        from babel.dates import format_date

        from portal_ext.portal.clock import portal_zone

        zone = tz or portal_zone()
        language = locale or "en"
        with force_locale(language):
            day = format_date(self.last_day(zone), "d MMM", locale=language)
            return gettext("away until %(day)s", day=day)

    def __repr__(self) -> str:
        return f"<Absence {self.id} user={self.user_id} {self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}>"


class StandingDeputy(db.Model):  # type: ignore[name-defined]
    """Who covers for a user whenever their absence names nobody."""

    __tablename__ = "standing_deputy"
    __table_args__ = (UniqueConstraint("portal_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)  # portal user id
    deputy_id: Mapped[int] = mapped_column(Integer)  # portal user id
    set_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    set_at: Mapped[datetime] = mapped_column(DateTime)


class AbsenceStamp(db.Model):  # type: ignore[name-defined]
    """One row per portal. ``version`` grows with every change to absences or standing
    deputies, in the same transaction, so every process can tell its cached roster is stale
    with one primary-key read. ``chart_polled_at`` is when the absence chart was last read."""

    __tablename__ = "absence_stamp"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    chart_polled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    chart_poll_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


def _local(value: datetime, tz: tzinfo) -> datetime:
    return value.replace(tzinfo=UTC).astimezone(tz)

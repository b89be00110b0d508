"""What the contact cadence keeps: its settings, and the read model the report reads.

- ``CadenceSettings``: one row per portal (a portal without one has the defaults of
  portal_ext.cadence.rules): the company list field holding the category and how its item ids
  map to A/B/C, the intervals, what counts as a contact.
- ``CadenceCompany``: one row per portal company: category, responsible, last call and last
  e-mail, and the due date with the day the warning starts (the state follows from them and
  today, so the report filters by state in SQL).
- ``CadenceLink``: the company of each portal contact, deal and lead.
- ``CadenceContact``: one row per (activity that counts, item it is bound to).
- ``CadenceResync``: the full resync's progress, resumable from its cursor.
- ``CadenceCallStat``: the outcome of each call the portal's telephony statistics know
  (``voximplant.statistic.get``), read by the resync before the activities.
- ``CadenceDigest``: the daily digest, one row per manager per portal day it was decided for
  (sent, or nothing to send), so a day is never sent twice.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db

DEFAULT_FIELD = "UF_CRM_CLIENT_CATEGORY"
# CadenceResync.state
IDLE, RUNNING, DONE, FAILED = "idle", "running", "done", "failed"


class CadenceSettings(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cadence_settings"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    category_field: Mapped[str] = mapped_column(String(64), default=DEFAULT_FIELD)
    # enumeration item id (as a string) -> "A" | "B" | "C"
    category_map: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # "A" -> {"count", "unit", "warning_days"}
    intervals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"min_call_seconds", "email_direction", "meetings"}
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The hour (portal time) the daily digest goes out; None: no digest.
    digest_hour: Mapped[int | None] = mapped_column(Integer, nullable=True, default=9)


class CadenceCompany(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cadence_company"
    __table_args__ = (Index("ix_cadence_company_portal_company", "portal_id", "company_id",
                            unique=True),
                      Index("ix_cadence_company_portal_due", "portal_id", "due_at"),
                      Index("ix_cadence_company_portal_resp_due", "portal_id",
                            "responsible_id", "due_at"),
                      Index("ix_cadence_company_portal_cat_due", "portal_id", "category",
                            "due_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"))
    company_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255), default="")
    category_item: Mapped[str | None] = mapped_column(String(32), nullable=True)  # raw item id
    category: Mapped[str | None] = mapped_column(String(1), nullable=True)
    responsible_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    created_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_call_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_call_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_call_direction: Mapped[str | None] = mapped_column(String(8), nullable=True)
    last_call_bound: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_email_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_email_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_email_direction: Mapped[str | None] = mapped_column(String(8), nullable=True)
    last_email_bound: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The last contact of any channel (the one the due date counts from).
    last_contact_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_channel: Mapped[str | None] = mapped_column(String(8), nullable=True)
    last_contact_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_contact_direction: Mapped[str | None] = mapped_column(String(8), nullable=True)
    last_contact_bound: Mapped[str | None] = mapped_column(String(32), nullable=True)
    due_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    warn_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    seen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # last resync


class CadenceLink(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cadence_link"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    entity_type_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(Integer, index=True)


class CadenceContact(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cadence_contact"
    __table_args__ = (Index("ix_cadence_contact_owner", "portal_id", "owner_type_id",
                            "owner_id"),)

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    activity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_type_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    direction: Mapped[str | None] = mapped_column(String(8), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CadenceResync(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cadence_resync"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=IDLE)
    stage: Mapped[int] = mapped_column(Integer, default=0)  # index into services.STAGES
    cursor: Mapped[int] = mapped_column(Integer, default=0)  # last id read in the stage
    top: Mapped[int] = mapped_column(Integer, default=0)  # the stage's highest id
    requests: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class CadenceCallStat(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cadence_call_stat"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    activity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    duration: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CadenceDigest(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cadence_digest"

    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # portal user id
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # the portal day it is for
    overdue: Mapped[int] = mapped_column(Integer, default=0)  # 0: nothing was sent
    notification_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

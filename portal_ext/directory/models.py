"""The portal's people and departments as last synced (see directory.services)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db


class PortalUser(UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "portal_user"
    __table_args__ = (UniqueConstraint("portal_id", "portal_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    portal_user_id: Mapped[int] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    work_position: Mapped[str] = mapped_column(String(255), default="")
    # A dismissed employee stays, inactive: their CRM items and history still point at them.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # UF_DEPARTMENT
    # The language the user chose on the extension's pages (None: never chose); what the
    # extension writes to them on the portal speaks it.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Kept in the session at login and compared on every request (portal_ext.auth.session):
    # raising it ends every session of the user, wherever it was opened.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def end_sessions(self) -> None:
        """Invalidate every open session of this user (no commit)."""
        self.session_version = (self.session_version or 0) + 1

    @property
    def full_name(self) -> str:
        full = f"{self.name} {self.last_name}".strip()
        return full or self.email or f"#{self.portal_user_id}"

    @property
    def is_head(self) -> bool:
        found = db.session.execute(
            select(Department.id).where(Department.portal_id == self.portal_id,
                                        Department.head_portal_user_id == self.portal_user_id)
            .limit(1)
        ).first()
        return found is not None

    @property
    def role(self) -> str:
        """admin (portal administrator), head (heads a department, UF_HEAD), else employee."""
        if self.is_admin:
            return "admin"
        return "head" if self.is_head else "employee"

    @property
    def is_active(self) -> bool:  # Flask-Login: a dismissed employee cannot log in
        return bool(self.active)

    def __repr__(self) -> str:
        return f"<PortalUser {self.portal_user_id} {self.email}>"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "portal_user_id": self.portal_user_id, "email": self.email,
                "name": self.name, "last_name": self.last_name,
                "work_position": self.work_position, "active": self.active,
                "is_admin": self.is_admin, "department_ids": list(self.department_ids or []),
                "role": self.role}


class Department(db.Model):  # type: ignore[name-defined]
    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("portal_id", "portal_department_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    portal_department_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255), default="")
    parent_portal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # PARENT
    head_portal_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # UF_HEAD

    def __repr__(self) -> str:
        return f"<Department {self.portal_department_id} {self.name}>"

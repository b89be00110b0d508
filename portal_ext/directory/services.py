"""Keeping the extension's copy of the portal's people and departments.

Sources: ``user.get`` (every user, dismissed ones included: ACTIVE is a boolean, false for a
dismissed employee) and ``department.get`` (UF_HEAD is the head). The portal's user list has no
administrator flag; the webhook owner's comes from ``user.admin`` here, everyone else's at
login (portal_ext.auth). Roles derive from these (PortalUser.role).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from portal_ext import signals
from portal_ext.directory.models import Department, PortalUser
from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)


def _announce_dismissed(*, portal: Portal, user: PortalUser, now: datetime, source: str) -> None:
    """End the user's sessions and send :data:`portal_ext.signals.user_dismissed` (inside the
    caller's transaction)."""
    user.end_sessions()  # a copied session cookie must not outlive the dismissal
    signals.user_dismissed.send(portal, user=user, now=now, source=source)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _active(value: Any) -> bool:
    # user.get says true/false; events and user.update say "Y"/"N".
    if isinstance(value, bool):
        return value
    return str(value).strip().upper() in ("Y", "TRUE", "1")


def _department_ids(value: Any) -> list[int]:
    items = value if isinstance(value, list | tuple) else [value] if value not in (None, "") else []
    return sorted({i for i in (_int(v) for v in items) if i is not None})


def upsert_user(*, portal: Portal, data: Mapping[str, Any], now: datetime
                ) -> tuple[PortalUser, str]:
    """Create or update one user from a ``user.get`` row (no commit).
    Returns the user and what happened: created, updated, dismissed or unchanged."""
    portal_user_id = _int(data.get("ID"))
    if portal_user_id is None:
        raise ValueError(f"a portal user without an ID: {dict(data)!r}")
    user = db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id, PortalUser.portal_user_id == portal_user_id)).first()
    created = user is None
    if user is None:
        user = PortalUser(portal_id=portal.id, portal_user_id=portal_user_id, is_admin=False)
        db.session.add(user)
    was_active = bool(user.active) if not created else True
    values = {
        "email": str(data.get("EMAIL") or ""), "name": str(data.get("NAME") or ""),
        "last_name": str(data.get("LAST_NAME") or ""),
        "work_position": str(data.get("WORK_POSITION") or ""),
        "active": _active(data.get("ACTIVE", True)),
        "department_ids": _department_ids(data.get("UF_DEPARTMENT")),
    }
    changed = created or any(getattr(user, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(user, key, value)
    user.synced_at = host_utcnow()  # bookkeeping: the host clock (directory.tasks)
    if created:
        return user, "created"
    if was_active and not user.active:
        return user, "dismissed"
    return user, "updated" if changed else "unchanged"


def mark_missing_inactive(*, portal: Portal, seen: set[int], now: datetime) -> int:
    """Users the portal no longer lists (deleted, or turned into bots) count as dismissed."""
    missing = list(db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id, PortalUser.active.is_(True),
        PortalUser.portal_user_id.not_in(seen or {0}))))
    for user in missing:
        user.active = False
        user.synced_at = host_utcnow()  # bookkeeping: the host clock (directory.tasks)
        _announce_dismissed(portal=portal, user=user, now=now, source="sync")
    return len(missing)


def sync_departments(*, portal: Portal, rows: list[dict[str, Any]]) -> int:
    existing = {d.portal_department_id: d for d in db.session.scalars(
        select(Department).where(Department.portal_id == portal.id))}
    seen: set[int] = set()
    for row in rows:
        department_id = _int(row.get("ID"))
        if department_id is None:
            continue
        seen.add(department_id)
        department = existing.get(department_id)
        if department is None:
            department = Department(portal_id=portal.id, portal_department_id=department_id)
            db.session.add(department)
        department.name = str(row.get("NAME") or "")
        department.parent_portal_id = _int(row.get("PARENT"))
        department.head_portal_user_id = _int(row.get("UF_HEAD"))
    for department_id, department in existing.items():
        if department_id not in seen:  # removed on the portal
            db.session.delete(department)
    return len(seen)


def mark_webhook_owner_admin(*, portal: Portal, client: PortalClient) -> int | None:
    """The caller of the REST API (the webhook owner) is an administrator if ``user.admin``
    says so; returns their portal user id."""
    try:
        answers = client.batch({"me": ("profile", {}), "admin": ("user.admin", {})})
    except PortalError as exc:
        log.warning("could not tell who the webhook owner is: %s", exc)
        return None
    owner_id = _int((answers.get("me") or {}).get("ID"))
    is_admin = answers.get("admin") is True or str(answers.get("admin")).lower() == "true"
    if owner_id is None:
        return None
    user = db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id, PortalUser.portal_user_id == owner_id)).first()
    if user is not None:
        user.is_admin = is_admin
    return owner_id


def _privileged(portal: Portal) -> tuple[set[int], set[int]]:
    """The portal user ids of the administrators and of the department heads, as stored."""
    admins = set(db.session.scalars(select(PortalUser.portal_user_id).where(
        PortalUser.portal_id == portal.id, PortalUser.is_admin.is_(True))))
    heads = {head for head in db.session.scalars(select(Department.head_portal_user_id).where(
        Department.portal_id == portal.id)) if head is not None}
    return admins, heads


def end_sessions_of_demoted(*, portal: Portal, before: tuple[set[int], set[int]]) -> int:
    """End the sessions of users who were administrators or heads in ``before`` and are no
    longer (no commit); returns how many."""
    admins, heads = _privileged(portal)
    demoted = (before[0] - admins) | (before[1] - heads)
    if not demoted:
        return 0
    users = list(db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id, PortalUser.portal_user_id.in_(demoted))))
    for user in users:
        user.end_sessions()
    return len(users)


def sync_directory(*, portal: Portal, client: PortalClient, now: datetime) -> dict[str, int]:
    """Pull every user and department; upsert; mark dismissed; end the sessions of whoever
    lost a role. Returns counts."""
    departments = client.departments()
    users = client.users()
    privileged_before = _privileged(portal)
    counts = {"users": len(users), "created": 0, "updated": 0, "dismissed": 0,
              "unchanged": 0, "departments": 0}
    counts["departments"] = sync_departments(portal=portal, rows=departments)
    seen: set[int] = set()
    for row in users:
        user, outcome = upsert_user(portal=portal, data=row, now=now)
        seen.add(user.portal_user_id)
        counts[outcome] += 1
        if outcome == "dismissed":
            _announce_dismissed(portal=portal, user=user, now=now, source="sync")
    counts["dismissed"] += mark_missing_inactive(portal=portal, seen=seen, now=now)
    db.session.flush()
    mark_webhook_owner_admin(portal=portal, client=client)
    db.session.flush()
    end_sessions_of_demoted(portal=portal, before=privileged_before)
    db.session.commit()
    log.info("directory of portal %s synced: %s", portal.id, counts)
    return counts


def sync_one_user(*, portal: Portal, client: PortalClient, portal_user_id: int,
                  now: datetime) -> str:
    """Re-read one user from the portal and store them (no commit); event handlers use it."""
    row = client.user(portal_user_id)
    if row is None:  # gone from the portal's list: treat as dismissed
        user = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_id == portal.id,
            PortalUser.portal_user_id == portal_user_id)).first()
        if user is not None and user.active:
            user.active = False
            user.synced_at = host_utcnow()  # bookkeeping: the host clock (directory.tasks)
            _announce_dismissed(portal=portal, user=user, now=now, source="event")
            return "dismissed"
        return "unchanged"
    user, outcome = upsert_user(portal=portal, data=row, now=now)
    if outcome == "dismissed":
        _announce_dismissed(portal=portal, user=user, now=now, source="event")
    return outcome


def directory_is_stale(*, portal: Portal, now: datetime, max_age: float) -> bool:
    last = db.session.scalar(select(func.max(PortalUser.synced_at))
                             .where(PortalUser.portal_id == portal.id))
    return last is None or last < now - timedelta(seconds=max_age)

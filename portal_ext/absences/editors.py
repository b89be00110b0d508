"""Who may record, change and delete whose absences and standing deputies.

- a user: their own;
- a department head: those of the people in the departments they head, sub-departments
  included (the head of Sales oversees Sales / Moscow: portal_ext.directory.rules);
- a portal administrator: everyone's.

Everything else is refused (the pages and the API answer 403), and so is a change nobody
acts for (``actor`` None).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal_ext.absences.errors import NotAllowed
from portal_ext.directory.models import Department, PortalUser
from portal_ext.directory.rules import headed_subtree
from portal_ext.extensions import db


def _departments(portal_id: int) -> list[Department]:
    return list(db.session.scalars(select(Department).where(Department.portal_id == portal_id)))


def may_edit(actor: PortalUser | None, user_id: int) -> bool:
    """Whether ``actor`` may edit the absences of the portal user ``user_id``."""
    if actor is None:
        return False
    if actor.is_admin or actor.portal_user_id == user_id:
        return True
    scope = headed_subtree(actor, _departments(actor.portal_id))
    if not scope:
        return False
    target = db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == actor.portal_id, PortalUser.portal_user_id == user_id)).first()
    return target is not None and bool(scope.intersection(target.department_ids or []))


def check_may_edit(actor: PortalUser | None, user_id: int) -> None:
    if not may_edit(actor, user_id):
        raise NotAllowed(None, _l("You may only change your own absences, or those of the "
                                  "people of the departments you head."))


def editable_users(actor: PortalUser) -> list[PortalUser]:
    """The active people whose absences ``actor`` may record, the actor first."""
    people = list(db.session.scalars(
        select(PortalUser).where(PortalUser.portal_id == actor.portal_id,
                                 PortalUser.active.is_(True))
        .order_by(PortalUser.last_name, PortalUser.name, PortalUser.id)))
    if not actor.is_admin:
        scope = headed_subtree(actor, _departments(actor.portal_id))
        people = [p for p in people if p.portal_user_id == actor.portal_user_id
                  or scope.intersection(p.department_ids or [])]
    people.sort(key=lambda p: p.portal_user_id != actor.portal_user_id)
    return people

"""Who a viewer may see: the data-level rule (OWASP ASVS 5.0 8.2.2), applied where the data is
read, for the pages, the API and every domain alike.

- an administrator sees everyone on the portal;
- a department head sees the people of the departments they head and of their sub-departments
  (portal_ext.directory.rules: a head of Sales also oversees Sales / Moscow);
- an employee sees no list (the pages and API refuse them before getting here).

Department membership is a JSON list on each user (the portal's ``UF_DEPARTMENT``), so the
user filters run in Python over the portal's users; a portal has thousands of people at most.
"""

from __future__ import annotations

from sqlalchemy import select

from portal_ext.directory.models import Department, PortalUser
from portal_ext.directory.rules import ADMIN, HEAD, head_ids, headed_subtree, role_of, sees
from portal_ext.extensions import db
from portal_ext.paging import Page
from portal_ext.portal.models import Portal


def departments_of(portal: Portal) -> list[Department]:
    return list(db.session.scalars(select(Department).where(Department.portal_id == portal.id)
                                   .order_by(Department.name, Department.id)))


def overseen_departments(portal: Portal, viewer: PortalUser) -> set[int]:
    """Portal ids of the departments ``viewer`` heads, sub-departments included."""
    return headed_subtree(viewer, departments_of(portal))


def visible_users(*, portal: Portal, viewer: PortalUser, active: bool | None = None,
                  department: int | None = None, role: str | None = None, page: int = 1,
                  per_page: int = 50) -> Page[PortalUser]:
    """The users ``viewer`` may see, filtered and paged; ``extra`` holds ``roles`` (user id ->
    role) and ``departments`` (portal department id -> name) for display."""
    departments = departments_of(portal)
    heads = head_ids(departments)
    users = list(db.session.scalars(
        select(PortalUser).where(PortalUser.portal_id == portal.id)
        .order_by(PortalUser.last_name, PortalUser.name, PortalUser.id)))
    viewer_role = role_of(viewer, heads)
    if viewer_role != ADMIN:
        scope = headed_subtree(viewer, departments) if viewer_role == HEAD else set()
        users = [u for u in users if sees(viewer, u, scope)]
    if active is not None:
        users = [u for u in users if bool(u.active) is active]
    if department is not None:
        users = [u for u in users if department in (u.department_ids or [])]
    roles = {u.id: role_of(u, heads) for u in users}
    if role is not None:
        users = [u for u in users if roles[u.id] == role]
    start = (page - 1) * per_page
    return Page(users[start:start + per_page], page, per_page, len(users),
                extra={"roles": roles,
                       "departments": {d.portal_department_id: d.name for d in departments}})

"""Who oversees whom in the portal's structure: pure decisions over the departments and
people given, no database, no portal, no clock.

- a user's *role*: ``admin`` (the portal says so), ``head`` (heads at least one department),
  else ``employee``;
- the departments a head *oversees*: those they head and all their sub-departments (the
  portal's structure is a tree: the head of Sales oversees Sales / Moscow too, even when
  Sales / Moscow has a head of its own);
- a viewer *sees* a user when the viewer is an administrator, is that user, or oversees one
  of the user's departments.

Worked example. Departments (portal id, parent, head): Company (1, none, Ivanova=2),
Sales (3, 1, Petrov=3), Sales / Moscow (5, 3, Sidorova=4), Support (7, 1, nobody).

- Petrov (3) heads Sales, so he oversees ``{3, 5}``: Sales and Sales / Moscow, not Support.
- Sidorova (4) oversees ``{5}`` only; Ivanova (2), heading the root, oversees ``{1, 3, 5, 7}``.
- Kozlov (6), in Sales / Moscow, is seen by Sidorova, Petrov and Ivanova; Orlova, in
  Support only, is seen by Ivanova (and administrators), not by Petrov.
- ``role_of`` says ``head`` for 2, 3 and 4, ``employee`` for Kozlov, ``admin`` for anyone the
  portal marks as an administrator, whatever they head.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ADMIN, HEAD, EMPLOYEE = "admin", "head", "employee"


def head_ids(departments: Iterable[Any]) -> set[int]:
    """Portal user ids of everyone heading a department."""
    return {d.head_portal_user_id for d in departments if d.head_portal_user_id is not None}


def role_of(user: Any, heads: set[int]) -> str:
    """The same answer as ``PortalUser.role``, without one query per user."""
    if user.is_admin:
        return ADMIN
    return HEAD if user.portal_user_id in heads else EMPLOYEE


def headed_subtree(viewer: Any, departments: Iterable[Any]) -> set[int]:
    """Portal ids of the departments ``viewer`` heads, with all their sub-departments."""
    departments = list(departments)
    children: dict[int | None, list[int]] = {}
    for dept in departments:
        children.setdefault(dept.parent_portal_id, []).append(dept.portal_department_id)
    found: set[int] = set()
    queue = [d.portal_department_id for d in departments
             if d.head_portal_user_id == viewer.portal_user_id]
    while queue:
        current = queue.pop()
        if current not in found:
            found.add(current)
            queue.extend(children.get(current, []))
    return found


def sees(viewer: Any, user: Any, scope: set[int]) -> bool:
    """Whether ``viewer`` (overseeing the departments ``scope``: :func:`headed_subtree`) may
    see ``user``."""
    return (bool(viewer.is_admin) or user.id == viewer.id
            or bool(scope.intersection(user.department_ids or [])))

"""Roles and the function-level permission check for pages.

Three roles, derived from the portal (``PortalUser.role``):

- ``admin``: a portal administrator (``user.admin`` is true); may do everything.
- ``head``: heads at least one department (``UF_HEAD``); sees their departments' people.
- ``employee``: everyone else; sees their own things.

``@role_required("admin", "head")`` lets those roles in; an administrator always passes.
An anonymous visitor is sent to the login page, a logged-in one with the wrong role gets 403.
Data-level checks (whose tokens, which department) are made in the views and services on top
of this (OWASP ASVS 5.0 8.2.1 and 8.2.2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, current_app, request
from flask_login import current_user

from portal_ext.navigation import ALL_ROLES

log = logging.getLogger(__name__)

ADMIN, HEAD, EMPLOYEE = "admin", "head", "employee"
ROLES: tuple[str, ...] = (ADMIN, HEAD, EMPLOYEE)

F = TypeVar("F", bound=Callable[..., Any])


def role_allows(role: str | None, allowed: frozenset[str] | set[str] | tuple[str, ...]) -> bool:
    return role == ADMIN or (role is not None and role in allowed)


def role_required(*roles: str) -> Callable[[F], F]:
    """Only logged-in, active users whose role is one of ``roles`` (or admin) get through."""
    allowed = frozenset(roles or ALL_ROLES)
    unknown = allowed - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                login_manager = current_app.login_manager  # type: ignore[attr-defined]
                return login_manager.unauthorized()
            if not role_allows(current_user.role, allowed):
                # ASVS 16.3.2: failed authorization attempts are logged.
                log.warning("forbidden: user %s (%s) on %s", current_user.get_id(),
                            current_user.role, request.path)
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator

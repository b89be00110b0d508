"""Bearer-token authentication and role checks for the JSON API.

``@api_auth("admin", "head")`` reads ``Authorization: Bearer <token>``, finds the live token by
its hash (portal_ext.auth.tokens), and lets its owner in when their role is listed (an
administrator always passes). The owner is then ``current_api_user()``.

Errors are raised as :class:`ApiError`; the API blueprint turns every one into
``{"error": {"code": ..., "message": ..., "field": ...}}`` with the status. A missing or bad
token is 401 with ``WWW-Authenticate: Bearer`` (RFC 6750 section 3); a valid token of a user
whose role is not allowed is 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from portal_ext.auth.roles import ROLES, role_allows
from portal_ext.auth.tokens import authenticate_token
from portal_ext.directory.models import PortalUser
from portal_ext.portal.clock import host_utcnow

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class ApiError(Exception):
    """An API failure with a stable machine-readable ``code`` and, when one input is to blame,
    the ``field`` that caused it."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.errors = errors  # several bad fields: every one, the first also above

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        if self.errors:
            error["errors"] = self.errors
        return {"error": error}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_api_user() -> PortalUser:
    user: PortalUser = g.api_user
    return user


def api_auth(*roles: str) -> Callable[[F], F]:
    """Require a valid bearer token whose owner has one of ``roles`` (any role when empty)."""
    allowed = frozenset(roles or ROLES)
    unknown = allowed - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            plain = bearer_token()
            if plain is None:
                raise ApiError(401, "unauthorized",
                               "Send an API token as 'Authorization: Bearer <token>'.",
                               "Authorization")
            found = authenticate_token(plain, now=host_utcnow())
            if found is None:
                log.warning("API: rejected token on %s", request.path)
                raise ApiError(401, "invalid_token",
                               "The token is unknown, revoked, or its owner was dismissed.",
                               "Authorization")
            token, user = found
            if not role_allows(user.role, allowed):
                log.warning("API forbidden: user %s (%s) on %s", user.id, user.role,
                            request.path)
                raise ApiError(403, "forbidden", f"The role '{user.role}' may not use this.")
            g.api_user = user
            g.api_token = token
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator

"""The top navigation: a registry where each blueprint adds its entry with the roles that see it.

A blueprint module calls :func:`register` at import time; :func:`entries_for` then returns the
entries whose endpoint exists in the running app and whose roles include the viewer's role, so
a feature that is not installed, or not permitted, simply does not show up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app

ALL_ROLES: frozenset[str] = frozenset({"admin", "head", "employee"})


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: object  # a lazy translated string; rendered with str() in the request's locale
    roles: frozenset[str]
    order: int


_REGISTRY: dict[str, NavEntry] = {}


def register(endpoint: str, label: object, *, roles: Iterable[str] = ALL_ROLES,
             order: int = 100) -> None:
    """Add (or replace) the entry for ``endpoint``; importing a module twice is harmless."""
    allowed = frozenset(roles)
    unknown = allowed - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles for {endpoint}: {sorted(unknown)}")
    _REGISTRY[endpoint] = NavEntry(endpoint, label, allowed, order)


def entries_for(role: str | None) -> list[NavEntry]:
    """The entries a viewer with ``role`` sees, in order; nothing for an anonymous viewer."""
    if role is None:
        return []
    views = current_app.view_functions
    return sorted((e for e in _REGISTRY.values() if role in e.roles and e.endpoint in views),
                  key=lambda e: (e.order, e.endpoint))


def add(endpoint: str, label: object, role: str | Iterable[str] = "employee", *,
        order: int = 100) -> None:
    """Add an entry seen by ``role`` and every role above it (admin > head > employee)."""
    roles = [role] if isinstance(role, str) else list(role)
    wanted: set[str] = set()
    for name in roles:
        wanted |= set(_ROLES_ABOVE.get(name, (name,)))
    register(endpoint, label, roles=wanted, order=order)


def items_for(user: object) -> list[NavEntry]:
    """The entries ``user`` (anything with ``role``; None or anonymous: nothing) sees."""
    if user is None or not getattr(user, "is_authenticated", True):
        return []
    return entries_for(getattr(user, "role", None))


_ROLES_ABOVE: dict[str, tuple[str, ...]] = {
    "employee": ("employee", "head", "admin"), "head": ("head", "admin"), "admin": ("admin",)}

"""The left menu: a registry where each blueprint adds its entry with the roles that see it.

A blueprint module calls :func:`register` at import time; :func:`entries_for` then returns the
entries whose endpoint exists in the running app and whose roles include the viewer's role, so
a feature that is not installed, or not permitted, simply does not show up. Entries are
grouped by domain (:data:`GROUPS`): an entry's group is named when it registers, else it is
the group of its blueprint (``absences.calendar`` -> Absences), and the menu shows the groups
in their order with a heading each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_pgettext

ALL_ROLES: frozenset[str] = frozenset({"admin", "head", "employee"})


@dataclass(frozen=True, order=True)
class NavGroup:
    """A heading of the menu; groups sort by ``order``."""

    order: int
    key: str
    label: object = field(compare=False)


GROUPS: dict[str, NavGroup] = {group.key: group for group in (
    NavGroup(10, "home", lazy_pgettext("menu", "Home")),
    NavGroup(20, "absences", lazy_pgettext("menu", "Absences")),
    NavGroup(30, "notifications", lazy_pgettext("menu", "Notifications")),
    NavGroup(40, "handover", lazy_pgettext("menu", "Handover")),
    NavGroup(50, "transfers", lazy_pgettext("menu", "Transfers")),
    NavGroup(60, "deadlines", lazy_pgettext("menu", "Deadlines")),
    NavGroup(70, "distribution", lazy_pgettext("menu", "Distribution")),
    NavGroup(80, "cadence", lazy_pgettext("menu", "Clients")),
    NavGroup(90, "admin", lazy_pgettext("menu", "Administration")),
    NavGroup(95, "account", lazy_pgettext("menu", "My account")),
)}

# Entries of a blueprint that are not in its blueprint's group.
_ENDPOINT_GROUPS: dict[str, str] = {
    "dashboard.index": "home", "dashboard.events": "admin", "dashboard.users": "admin",
    "dashboard.tokens": "account"}


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: object  # a lazy translated string; rendered with str() in the request's locale
    roles: frozenset[str]
    order: int
    group: NavGroup = GROUPS["home"]


_REGISTRY: dict[str, NavEntry] = {}


def group_of(endpoint: str, group: str | None = None) -> NavGroup:
    """The menu group of ``endpoint``: the one named, else its own, else its blueprint's."""
    key = group or _ENDPOINT_GROUPS.get(endpoint) or endpoint.partition(".")[0]
    return GROUPS.get(key, GROUPS["admin"])


def register(endpoint: str, label: object, *, roles: Iterable[str] = ALL_ROLES,
             order: int = 100, group: str | None = None) -> None:
    """Add (or replace) the entry for ``endpoint``; importing a module twice is harmless."""
    allowed = frozenset(roles)
    unknown = allowed - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles for {endpoint}: {sorted(unknown)}")
    if group is not None and group not in GROUPS:
        raise ValueError(f"unknown menu group for {endpoint}: {group}")
    _REGISTRY[endpoint] = NavEntry(endpoint, label, allowed, order, group_of(endpoint, group))


def entries_for(role: str | None) -> list[NavEntry]:
    """The entries a viewer with ``role`` sees, in order; nothing for an anonymous viewer."""
    if role is None:
        return []
    views = current_app.view_functions
    return sorted((e for e in _REGISTRY.values() if role in e.roles and e.endpoint in views),
                  key=lambda e: (e.group.order, e.order, e.endpoint))


def grouped(entries: Iterable[NavEntry]) -> list[tuple[NavGroup, list[NavEntry]]]:
    """``entries`` (in menu order) under their group headings, groups in their order."""
    groups: dict[NavGroup, list[NavEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.group, []).append(entry)
    return sorted(groups.items(), key=lambda item: item[0].order)


def add(endpoint: str, label: object, role: str | Iterable[str] = "employee", *,
        order: int = 100, group: str | None = None) -> None:
    """Add an entry seen by ``role`` and every role above it (admin > head > employee)."""
    roles = [role] if isinstance(role, str) else list(role)
    wanted: set[str] = set()
    for name in roles:
        wanted |= set(_ROLES_ABOVE.get(name, (name,)))
    register(endpoint, label, roles=wanted, order=order, group=group)


def items_for(user: object) -> list[NavEntry]:
    """The entries ``user`` (anything with ``role``; None or anonymous: nothing) sees."""
    if user is None or not getattr(user, "is_authenticated", True):
        return []
    return entries_for(getattr(user, "role", None))


_ROLES_ABOVE: dict[str, tuple[str, ...]] = {
    "employee": ("employee", "head", "admin"), "head": ("head", "admin"), "admin": ("admin",)}

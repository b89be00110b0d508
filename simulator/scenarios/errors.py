"""The errors of seeding and portal life (``sim.seed``, ``/_sim/seed``, ``/_sim/life``)."""

from __future__ import annotations

from simulator.core.errors import NamedError


class PortalNotEmpty(NamedError):
    code, text = "PORTAL_NOT_EMPTY", "The portal already has users; reset it before seeding"


class PortalEmpty(NamedError):
    code, text = "PORTAL_EMPTY", "The portal has no active users to play with"


class UnknownFixture(NamedError):
    code, text = "INVALID_ARG_VALUE", "Unknown fixture '{fixture}'"


class UnknownAction(NamedError):
    code, text = "INVALID_ARG_VALUE", "Unknown action '{name}'"


class NotACount(NamedError):
    code, text = "INVALID_ARG_VALUE", "'{name}' must be an integer >= 0"


class NoAdministrator(NamedError):
    code, text = "INVALID_ARG_VALUE", "'users' must be at least 1 (the administrator)"

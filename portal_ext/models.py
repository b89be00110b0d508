"""Every model module, imported once so the metadata (and Alembic) sees every table: the
platform's below, then each domain's ``models`` (portal_ext.domains)."""

from __future__ import annotations

import importlib

from portal_ext import domains

PLATFORM_MODEL_MODULES: tuple[str, ...] = (
    "portal_ext.portal.models",
    "portal_ext.auth.models",
    "portal_ext.events.models",
    "portal_ext.moves.models",
    "portal_ext.portal.application",
    "portal_ext.robots.automation",
)
MODEL_MODULES: tuple[str, ...] = PLATFORM_MODEL_MODULES + domains.modules("models")


def import_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)

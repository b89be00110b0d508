"""Every model module, imported once so the metadata (and Alembic) sees every table.
A package with its own models adds its module here."""

from __future__ import annotations

import importlib

MODEL_MODULES: tuple[str, ...] = (
    "portal_ext.portal.models",
    "portal_ext.directory.models",
    "portal_ext.auth.models",
    "portal_ext.events.models",
    "portal_ext.absences.models",
    "portal_ext.notifications.models",
    "portal_ext.moves.models",
    "portal_ext.handover.models",
    "portal_ext.transfers.models",
)


def import_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)

"""Every module that defines jobs (portal_ext.jobs), imported so they are registered in the
web app, the embedded worker and Celery workers alike. A package with jobs adds its module."""

from __future__ import annotations

import importlib

JOB_MODULES: tuple[str, ...] = (
    "portal_ext.events.processing",
    "portal_ext.events.offline",
    "portal_ext.directory.services",
    "portal_ext.absences.tasks",
    "portal_ext.notifications.tasks",
    "portal_ext.moves.tasks",
    "portal_ext.handover.tasks",
    "portal_ext.transfers.dismissals",
)


def load_job_modules() -> None:
    for name in JOB_MODULES:
        importlib.import_module(name)

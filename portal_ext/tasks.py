"""Every module that defines jobs (portal_ext.jobs), imported so they are registered in the
web app, the embedded worker and Celery workers alike: the event intake's below, then each
domain's ``tasks`` (portal_ext.domains)."""

from __future__ import annotations

import importlib

from portal_ext import domains

PLATFORM_JOB_MODULES: tuple[str, ...] = (
    "portal_ext.events.processing",
    "portal_ext.events.offline",
    "portal_ext.moves.tasks",
)
JOB_MODULES: tuple[str, ...] = PLATFORM_JOB_MODULES + domains.modules("tasks")


def load_job_modules() -> None:
    for name in JOB_MODULES:
        importlib.import_module(name)

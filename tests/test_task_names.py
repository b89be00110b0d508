"""Task names are pinned: every job is registered under a name written out in its decorator
(portal_ext.jobs), so moving a function to another module never renames its Celery task and
messages already queued keep finding it. The names below are the contract with the broker:
changing one needs a migration of the queued messages, not just an edit here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parents[1]

PINNED = {
    "portal_ext.jobs.tick",
    "portal_ext.events.processing.process_event",
    "portal_ext.events.processing.process_due",
    "portal_ext.events.processing.reconcile_events",
    "portal_ext.events.offline.poll_offline_job",
    "portal_ext.events.offline.poll_offline_tick",
    "portal_ext.directory.services.sync_directory_job",
    "portal_ext.directory.services.sync_directory_tick",
    "portal_ext.absences.tasks.reconcile_portal_absences",
    "portal_ext.absences.tasks.absences_tick",
    "portal_ext.notifications.tasks.drain_outbox_job",
    "portal_ext.notifications.tasks.notifications_tick",
    "portal_ext.notifications.tasks.deadline_check_tick",
    "portal_ext.handover.tasks.apply_batch",
    "portal_ext.handover.tasks.restore_batch",
    "portal_ext.handover.tasks.handover_tick",
    "portal_ext.transfers.dismissals.act_on_portal",
    "portal_ext.transfers.dismissals.transfers_tick",
    "portal_ext.distribution.tasks.run_report",
    "portal_ext.distribution.tasks.distribution_tick",
    "portal_ext.cadence.tasks.resync_portal",
    "portal_ext.cadence.tasks.cadence_tick",
    "portal_ext.cadence.tasks.digest_tick",
    "portal_ext.deadlines.tasks.sweep_portal",
    "portal_ext.deadlines.tasks.record_veto",
    "portal_ext.deadlines.tasks.resync_portal",
    "portal_ext.deadlines.tasks.deadlines_tick",
    "portal_ext.robots.tasks.catch_up_portal",
    "portal_ext.robots.tasks.robots_tick",
}
PERIODIC = {name for name in PINNED if name.endswith(("_tick", ".reconcile_events"))}

REGISTERING = {"job", "periodic", "task", "shared_task"}  # jobs.job, celery.task, ...


def _decorator_name(node: ast.expr) -> str | None:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Name):
        return target.id
    return None


def declared_names() -> tuple[set[str], list[str]]:
    """Names given to job/task decorators in portal_ext's source, and the decorators that
    give none (a bare ``@jobs.job`` or a name that is not written out)."""
    names: set[str] = set()
    unnamed: list[str] = []
    for path in sorted((ROOT / "portal_ext").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                if _decorator_name(decorator) not in REGISTERING:
                    continue
                given = [k.value for k in getattr(decorator, "keywords", ())
                         if k.arg == "name"]
                if len(given) == 1 and isinstance(given[0], ast.Constant) \
                        and isinstance(given[0].value, str):
                    names.add(given[0].value)
                else:
                    unnamed.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    return names, unnamed


def test_every_job_decorator_writes_its_name_out() -> None:
    names, unnamed = declared_names()
    assert unnamed == []
    assert names == PINNED - {"portal_ext.jobs.tick"}  # the tick is registered by Celery's setup


def test_the_registered_jobs_are_exactly_the_pinned_ones() -> None:
    from portal_ext import jobs
    from portal_ext.tasks import load_job_modules

    load_job_modules()
    assert set(jobs.JOBS) == PINNED - {"portal_ext.jobs.tick"}
    assert set(jobs.PERIODIC) == PERIODIC
    for name, fn in jobs.JOBS.items():
        assert jobs.job_name(fn) == name


def test_celery_registers_a_task_per_pinned_name() -> None:
    from portal_ext.celery_app import init_celery
    from portal_ext.tasks import load_job_modules

    load_job_modules()
    app = Flask("pinned-names")
    app.config["CELERY_BROKER_URL"] = "memory://"
    celery = init_celery(app)
    registered = {name for name in celery.tasks if not name.startswith("celery.")}
    assert registered == PINNED


def test_a_name_is_given_to_one_function_only() -> None:
    from portal_ext import jobs

    def first() -> None: ...

    def second() -> None: ...

    jobs.job(name="tests.pinned.example")(first)
    try:
        jobs.job(name="tests.pinned.example")(first)  # importing a module again: harmless
        with pytest.raises(ValueError, match="already"):
            jobs.job(name="tests.pinned.example")(second)
    finally:
        del jobs.JOBS["tests.pinned.example"]


def test_a_job_needs_a_written_name() -> None:
    from portal_ext import jobs

    def nameless() -> None: ...

    with pytest.raises(TypeError):
        jobs.job(nameless)  # type: ignore[arg-type, call-arg]

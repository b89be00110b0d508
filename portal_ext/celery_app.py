"""Celery for production: every registered job (portal_ext.jobs) becomes a task of the same
name, run inside the Flask app context (Flask's "Background Tasks with Celery" pattern).

Reliability (reference/reliability.md §1): ``task_acks_late`` with
``task_reject_on_worker_lost`` re-queues a task whose worker died mid-way and a prefetch of 1
keeps other tasks from waiting behind it; every task is idempotent, so a second run is harmless.
The beat schedule is one tick a minute running the periodic jobs (reconcilers); the database,
not the broker, holds what must happen, so a lost message is found again by the next tick.

    celery -A wsgi.celery worker      celery -A wsgi.celery beat
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

from portal_ext import jobs

TICK_TASK = "portal_ext.jobs.tick"


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=app.config["CELERY_BROKER_URL"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": int(app.config.get("CELERY_VISIBILITY_TIMEOUT", 3600))},
        beat_schedule={"tick": {"task": TICK_TASK, "schedule": 60.0}},
        timezone="UTC",
    )
    for name, fn in jobs.JOBS.items():
        celery.task(name=name)(_runner(name, fn))
    celery.task(name=TICK_TASK)(jobs.run_periodic)
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def _runner(name: str, fn: Any) -> Any:
    def run(*args: Any) -> Any:
        return jobs.run_job(name, args)

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run

"""Background work, one interface for three runners (setting ``TASK_RUNNER``):

- ``inline``: run the job now, in the caller (tests);
- ``thread``: one daemon worker thread runs jobs in order, and a scheduler thread runs the
  periodic jobs every ``TICK_SECONDS`` (the one-command demo: no server besides the app);
- ``celery``: ``send_task`` to the broker; celery beat runs the periodic tick
  (portal_ext.celery_app).

A job is a plain function registered with :func:`job` under a name written out in full (the
task name, pinned: moving the function does not change it); it takes ids (never ORM objects), runs
inside an app context, and is idempotent: any job may run twice (acks_late redelivery, a
reconcile tick), so running it again must not repeat its effect.

Work that must only see committed rows is asked for with :func:`enqueue_after_commit`: the job
is queued when the current transaction commits, and not at all when it rolls back.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal_ext.extensions import db

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

JOBS: dict[str, Callable[..., Any]] = {}
PERIODIC: dict[str, Callable[[], Any]] = {}
_NAMES: dict[Callable[..., Any], str] = {}
_STATE = "portal_ext.jobs"
_AFTER_COMMIT = "portal_ext.jobs.after_commit"


def job_name(fn: Callable[..., Any]) -> str:
    """The name ``fn`` was registered under (its Celery task's name)."""
    try:
        return _NAMES[fn]
    except KeyError:
        raise KeyError(f"not a registered job: {fn.__module__}.{fn.__qualname__}") from None


def job(*, name: str) -> Callable[[F], F]:
    """Register a function as the job (and Celery task) ``name``.

    The name is written out, never derived from where the function lives, so moving a job to
    another module does not rename its task (messages already queued under the old name would
    find no task)::

        @jobs.job(name="portal_ext.absences.tasks.reconcile_portal_absences")
        def reconcile_portal_absences(portal_id: int) -> dict[str, int]: ...
    """

    def decorator(fn: F) -> F:
        known = JOBS.get(name)
        if known is not None and _where(known) != _where(fn):
            raise ValueError(f"job {name!r} is already {_where(known)}")
        JOBS[name] = fn
        _NAMES[fn] = name
        return fn

    return decorator


def periodic(*, name: str) -> Callable[[F], F]:
    """Register a job without arguments that every periodic tick runs (reconcilers)."""

    def decorator(fn: F) -> F:
        job(name=name)(fn)
        PERIODIC[name] = fn
        return fn

    return decorator


def _where(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def enqueue(task: Callable[..., Any] | str, *args: Any) -> None:
    """Run ``task(*args)`` in the background (or now, with the inline runner)."""
    name = task if isinstance(task, str) else job_name(task)
    if name not in JOBS:
        raise KeyError(f"not a registered job: {name}")
    runner: Runner = current_app.extensions[_STATE]
    runner.submit(name, args)


def enqueue_after_commit(task: Callable[..., Any] | str, *args: Any,
                         once: QueuedOnce | None = None) -> None:
    """Enqueue ``task(*args)`` when the current transaction of ``db.session`` commits; if it
    rolls back, nothing. Asked twice in one transaction with the same arguments: one job.
    Jobs go in the order asked, each in a fresh app context (with the inline runner the job
    runs there and then, in its own session: the committing one can no longer emit SQL).

    ``once`` coalesces across transactions, keyed by the first argument (a portal id): while a
    job of that key waits in the queue, another commit queues nothing (the job takes
    everything due when it runs, and calls ``once.unmark`` as it starts). A job that fails to
    be queued is logged; a periodic tick catches up."""
    name = task if isinstance(task, str) else job_name(task)
    if name not in JOBS:
        raise KeyError(f"not a registered job: {name}")
    _listen_for_commits()
    pending: dict[tuple[str, tuple[Any, ...]], QueuedOnce | None] = \
        db.session.info.setdefault(_AFTER_COMMIT, {})
    pending.setdefault((name, args), once)


_LISTENING = threading.Lock()


def _listen_for_commits() -> None:
    """Listen from the first use, after the modules the app loads have registered their own
    commit listeners (a cache dropped on commit is dropped before a job runs)."""
    with _LISTENING:
        if not event.contains(Session, "after_commit", _enqueue_committed):
            event.listen(Session, "after_commit", _enqueue_committed)
            event.listen(Session, "after_rollback", _forget_uncommitted)


def _enqueue_committed(session: Session) -> None:
    pending = session.info.pop(_AFTER_COMMIT, None)
    if not pending or not has_app_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for (name, args), once in pending.items():
        try:
            if once is None or isinstance(runner_for(app), InlineRunner) \
                    or once.mark(app, args[0]):
                with app.app_context():  # its own session: the committing one is finishing
                    enqueue(name, *args)
        except Exception:  # the periodic tick catches up
            log.exception("could not queue %s%r after the commit", name, args)


def _forget_uncommitted(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def run_job(name: str, args: tuple[Any, ...] | list[Any]) -> Any:
    """Run a registered job in the current app context (every runner ends here)."""
    return JOBS[name](*args)


def run_periodic() -> None:
    """One tick: every periodic job, each on its own so one failure does not stop the rest."""
    for name, fn in list(PERIODIC.items()):
        try:
            fn()
        except Exception:
            log.exception("periodic job %s failed", name)


class Runner:
    def submit(self, name: str, args: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Start background threads, if the runner has any (serving the app does this)."""

    def stop(self) -> None:
        """Stop background threads."""


class InlineRunner(Runner):
    def submit(self, name: str, args: tuple[Any, ...]) -> None:
        run_job(name, args)


class CeleryRunner(Runner):
    def __init__(self, app: Flask) -> None:
        self.app = app

    def submit(self, name: str, args: tuple[Any, ...]) -> None:
        celery = self.app.extensions["celery"]
        celery.send_task(name, args=list(args))


class ThreadRunner(Runner):
    """An in-process worker and scheduler; jobs run one at a time, in order."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._queue: queue.Queue[tuple[str, tuple[Any, ...]] | None] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._scheduler: threading.Thread | None = None

    def submit(self, name: str, args: tuple[Any, ...]) -> None:
        self._ensure_worker()
        self._queue.put((name, args))

    def start(self) -> None:
        self._ensure_worker()
        with self._lock:
            if self._scheduler is None or not self._scheduler.is_alive():
                self._stop.clear()
                self._scheduler = threading.Thread(target=self._tick_loop, daemon=True,
                                                   name="portal-ext-scheduler")
                self._scheduler.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        for thread in (self._worker, self._scheduler):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=10)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted job ran (tests, the CLI)."""
        done = threading.Event()

        def _wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=_wait, daemon=True).start()
        return done.wait(timeout)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, daemon=True,
                                                name="portal-ext-worker")
                self._worker.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                name, args = item
                with self.app.app_context():
                    try:
                        run_job(name, args)
                    except Exception:
                        log.exception("job %s%r failed", name, args)
            finally:
                self._queue.task_done()

    def _tick_loop(self) -> None:
        interval = float(self.app.config.get("TICK_SECONDS", 30.0))
        while not self._stop.is_set():
            # Periodic jobs go through the worker queue: one job at a time on SQLite.
            for name in list(PERIODIC):
                self.submit(name, ())
            self._stop.wait(interval)


class QueuedOnce:
    """At most one job of a kind waiting in the queue per key (a portal): ``mark`` says whether
    to queue one now (False while one already waits), and the job calls ``unmark`` as it
    starts, before it reads its work, so what arrives from then on queues the next one. A
    burst of triggers costs a few jobs, not one each.

    Thread runner: a set in this process. Celery: a Redis key (``SET NX`` with a short expiry,
    so a lost job's mark runs out; the periodic tick takes what that job left). Without Redis,
    every trigger queues a job (correct, only slower).
    """

    def __init__(self, name: str, expiry_ms: int = 5000) -> None:
        self.name = name
        self.redis_key = f"portal_ext:{name}:{{key}}"
        self.expiry_ms = expiry_ms
        self._state_key = f"portal_ext.jobs.queued.{name}"

    def _state(self, app: Flask) -> dict[str, Any]:
        state: dict[str, Any] = app.extensions.setdefault(
            self._state_key, {"keys": set(), "lock": threading.Lock(), "redis": None})
        return state

    def _redis(self, app: Flask) -> Any:
        state = self._state(app)
        if state["redis"] is None:
            try:
                import redis

                state["redis"] = redis.Redis.from_url(app.config["CELERY_BROKER_URL"])
            except Exception as exc:
                log.warning("%s: no Redis (%s); a job per trigger", self.name, exc)
                return None
        return state["redis"]

    def mark(self, app: Flask, key: int) -> bool:
        if app.config.get("TASK_RUNNER") == "celery":
            client = self._redis(app)
            if client is None:
                return True
            try:
                return bool(client.set(self.redis_key.format(key=key), "1", nx=True,
                                       px=self.expiry_ms))
            except Exception as exc:
                log.warning("%s: %s", self.name, exc)
                return True
        state = self._state(app)
        with state["lock"]:
            if key in state["keys"]:
                return False
            state["keys"].add(key)
            return True

    def unmark(self, app: Flask, key: int) -> None:
        state = self._state(app)
        with state["lock"]:
            state["keys"].discard(key)
        if app.config.get("TASK_RUNNER") == "celery":
            client = self._redis(app)
            if client is not None:
                try:
                    client.delete(self.redis_key.format(key=key))
                except Exception as exc:
                    log.warning("%s: %s", self.name, exc)


def init_app(app: Flask) -> None:
    kind = app.config.get("TASK_RUNNER", "thread")
    runners: dict[str, Callable[[Flask], Runner]] = {
        "inline": lambda _app: InlineRunner(), "thread": ThreadRunner, "celery": CeleryRunner}
    if kind not in runners:
        raise ValueError(f"TASK_RUNNER must be inline, thread or celery, not {kind!r}")
    runner = runners[kind](app)
    app.extensions[_STATE] = runner
    if isinstance(runner, ThreadRunner):
        # The embedded scheduler starts with the first request, not at import: ``flask db
        # upgrade`` and other commands load the app too and must not start ticking.
        @app.before_request
        def _start_scheduler() -> None:
            runner.start()


def wait_idle(app: Flask, timeout: float = 60.0) -> bool:
    """Wait for the embedded worker to finish what was queued (a CLI command before exit)."""
    runner = runner_for(app)
    return runner.drain(timeout) if isinstance(runner, ThreadRunner) else True


def runner_for(app: Flask) -> Runner:
    runner: Runner = app.extensions[_STATE]
    return runner

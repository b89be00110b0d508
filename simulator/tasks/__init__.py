"""Tasks: ``tasks.task.*`` (task.py, its input in input.py), ``tasks.task.history.list`` and
``task.commentitem.*`` (log.py)."""

from simulator.tasks import checklist, control, log, task  # noqa: F401  (registers the methods)

"""Notifications: ``im.notify*`` (notify.py) and the inboxes they fill (notices.py)."""

from simulator.im import notify  # noqa: F401  (registers the methods)
from simulator.im.notices import add_notification

__all__ = ["add_notification"]

"""The calendar: the absence chart and ``calendar.accessibility.get``, the working calendar and
``calendar.settings.get`` (accessibility.py), with the absence chart's Python API for scenarios
and tests."""

from simulator.calendar.accessibility import add_absence, delete_absence, update_absence

__all__ = ["add_absence", "delete_absence", "update_absence"]

"""The calendar: the absence chart and ``calendar.accessibility.get`` (accessibility.py), with
its Python API for scenarios and tests."""

from simulator.calendar.accessibility import add_absence, delete_absence, update_absence

__all__ = ["add_absence", "delete_absence", "update_absence"]

"""Absences, deputies and who covers for whom."""

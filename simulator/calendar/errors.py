"""The calendar's errors: ``calendar.accessibility.get`` answers as the portal does ([D]
api-reference/calendar/calendar-event/calendar-accessibility-get.md); the absence chart's
Python API answers ``INVALID_ARG_VALUE`` naming the field."""

from __future__ import annotations

from simulator.core.errors import NamedError


class RequiredParameterNotSet(NamedError):
    text = 'The required parameter "{name}" for the method "calendar.accessibility.get" is not set'


class UnknownAbsenceType(NamedError):
    code, text = "INVALID_ARG_VALUE", "Unknown absence type '{value}'; expected one of {types}"


class AbsenceEndsBeforeStart(NamedError):
    code, text = "INVALID_ARG_VALUE", "The absence ends before it starts"

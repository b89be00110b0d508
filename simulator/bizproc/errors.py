"""The automation's errors. The portal's bizproc REST service names its failures
``ERROR_ACTIVITY_*`` and refuses a caller outside an application's context with
``ACCESS_DENIED`` (reference wave 2 §1.6: the methods work only in an application's context;
the texts are the simulator's choice, see docs/simulator.md)."""

from __future__ import annotations

from simulator.core.errors import NamedError


class AppContextRequired(NamedError):
    code, text, status = "ACCESS_DENIED", "Application context required", 403


class AdminRequired(NamedError):
    code, text, status = "ACCESS_DENIED", "Access denied! Administrator rights required", 403


class RobotInvalid(NamedError):
    code, text, status = "ERROR_ACTIVITY_VALIDATION_FAILURE", "{detail}", 400


class RobotExists(NamedError):
    code, text, status = ("ERROR_ACTIVITY_ALREADY_INSTALLED",
                          "Activity or Robot already installed!", 400)


class RobotNotFound(NamedError):
    code, text, status = "ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!", 400


class EventTokenInvalid(NamedError):
    code, text, status = "ACCESS_DENIED", "Access denied!", 403


class EventTokenMissing(NamedError):
    code, text, status = "ERROR_ARGUMENT", "EVENT_TOKEN is required", 400

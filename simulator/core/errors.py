"""The portal's error type: one exception carrying the REST error code, text and HTTP status.

Each service names its errors in its own ``errors.py`` as subclasses of :class:`NamedError`
(the portal's code, text and status in one place); the ones every service shares (parameters,
dates, filters, ``batch``, rate limits, the dispatcher's own) are here. Codes and statuses
mirror the portal's documentation (see docs/simulator.md for the table).
"""

from __future__ import annotations

from typing import Any


class SimError(Exception):
    """An error the portal reports as ``{"error": code, "error_description": description}``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(f"{code or 'ERROR'}: {description}")
        self.code = code
        self.description = description
        self.status = status

    def as_dict(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


class NamedError(SimError):
    """One of the portal's errors by name: ``code``, ``text`` (a ``str.format`` template filled
    from the keyword arguments) and ``status`` are the portal's, declared on the class."""

    code = ""
    text = ""
    status = 400

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        super().__init__(cls.code, cls.text.format(**values), cls.status)


class Veto(Exception):
    """Raised by an in-process *before* subscriber to refuse a change, with a message for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- the dispatcher ---------------------------------------------------------------------------
class MethodNotFound(NamedError):
    code, text, status = "ERROR_METHOD_NOT_FOUND", "Method not found!", 404


class AccessDenied(NamedError):
    """An administrator's method called by someone else; also ``event.*`` refusals."""

    code, text, status = "ACCESS_DENIED", "Access denied!", 403


class NoAuth(NamedError):
    code, text, status = "NO_AUTH_FOUND", "Wrong authorization data", 401


# -- parameters -------------------------------------------------------------------------------
class NotAnObject(NamedError):
    code, text = "INVALID_ARG_VALUE", "Parameter '{key}' must be an object"


class NotDefinedOrInvalid(NamedError):
    """The old CRM convention: an empty code and the text only."""

    text = "{name} is not defined or invalid"


class FieldRequired(NamedError):
    text = "The field {name} is not defined or invalid"


class NotFound(NamedError):
    """Old CRM methods answer a missing id with an empty code and HTTP 400."""

    text = "Not found"


class ArgumentRequired(NamedError):
    code, text = "INVALID_ARG_VALUE", "The field {name} is required"


class UserNotFound(NamedError):
    code, text = "INVALID_ARG_VALUE", "User {user_id} not found"


class InvalidDate(NamedError):
    code, text = "INVALID_ARG_VALUE", "Invalid date value in field {field}"


class UnknownFilterField(NamedError):
    code, text = "INVALID_ARG_VALUE", "Unknown filter field '{name}'"


# -- batch --------------------------------------------------------------------------------------
class BatchNotCommands(NamedError):
    code, text = "INVALID_ARG_VALUE", "Parameter 'cmd' must be an array of commands"


class BatchBadCommand(NamedError):
    code, text = "INVALID_ARG_VALUE", "Command '{key}' must be a string 'method?parameters'"


class BatchLengthExceeded(NamedError):
    code, text = "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded"


class BatchMethodNotAllowed(NamedError):
    code, text, status = ("ERROR_BATCH_METHOD_NOT_ALLOWED",
                          "Method is not allowed for batch usage", 405)


# -- rate limits --------------------------------------------------------------------------------
class QueryLimitExceeded(NamedError):
    # The real body; the docs once misspelled it (bitrix-tools/b24-rest-docs#193).
    code, text, status = "QUERY_LIMIT_EXCEEDED", "Too many requests", 503


class OperationTimeLimit(NamedError):
    code, text, status = ("OPERATION_TIME_LIMIT",
                          "Method is blocked due to operation time limit.", 429)


# -- OAuth access tokens ------------------------------------------------------------------------
class InvalidToken(NamedError):
    code, text, status = "invalid_token", "The access token provided is invalid.", 401


class ExpiredToken(NamedError):
    code, text, status = "expired_token", "The access token provided has expired.", 401


# -- the REST endpoint's request parsing ----------------------------------------------------------
class XmlNotSimulated(NamedError):
    code, text = "INVALID_REQUEST", "The XML transport is not simulated; call the method with .json"


class MalformedJson(NamedError):
    code, text = "INVALID_REQUEST", "Malformed JSON in the request body: {detail}"


class BodyNotParameters(NamedError):
    code, text = "INVALID_REQUEST", "The JSON body must be an object or an array of parameters"

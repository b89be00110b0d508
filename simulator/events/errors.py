"""The errors of ``event.*`` and ``event.offline.*``, as the portal words them ([D]
api-reference/events/...); refusals answer 403 ``ACCESS_DENIED`` (simulator.core.errors)."""

from __future__ import annotations

from simulator.core.errors import NamedError


class NullOrEmpty(NamedError):
    code, text = "ERROR_ARGUMENT", "Argument '{name}' is null or empty"


class AuthTypeNotUser(NamedError):
    code, text = "ERROR_ARGUMENT", "auth_type must be a user id"


class WrongEventType(NamedError):
    code, text = "ERROR_ARGUMENT", "event_type must be online or offline"


class EventNotFound(NamedError):
    code, text = "ERROR_EVENT_NOT_FOUND", "Event not found"


class HandlerNotUrl(NamedError):
    code, text = "ERROR_ARGUMENT", "The handler must be an http(s) URL"


class HandlerAlreadyExists(NamedError):
    code, text = "ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!"


class RecordIdsInvalid(NamedError):
    code, text = "ERROR_ARGUMENT", "id must list record ids"

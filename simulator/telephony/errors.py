"""The telephony methods' errors, as the portal words them."""

from __future__ import annotations

from simulator.core.errors import NamedError


class AccessDenied(NamedError):
    code, text, status = "ACCESS_DENIED", "Access denied", 403


class CallNotFound(NamedError):
    code, text = "CALL_NOT_FOUND", "Call is not found or it is finished already"


class WrongType(NamedError):
    code, text = "INVALID_TYPE", "Unknown TYPE"


class UserRequired(NamedError):
    code, text = "USER_ID_OR_USER_PHONE_INNER_REQUIRED", \
        "USER_ID or USER_PHONE_INNER should be set"

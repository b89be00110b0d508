"""The portal's error type: one exception carrying the REST error code, text and HTTP status.

Codes and statuses mirror the portal's documentation (see docs/simulator.md for the table).
"""

from __future__ import annotations


class SimError(Exception):
    """An error the portal reports as ``{"error": code, "error_description": description}``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(f"{code or 'ERROR'}: {description}")
        self.code = code
        self.description = description
        self.status = status

    def as_dict(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


class Veto(Exception):
    """Raised by an in-process *before* subscriber to refuse a change, with a message for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def not_found(description: str = "Not found") -> SimError:
    # Old CRM methods answer a missing id with an empty code and HTTP 400.
    return SimError("", description, 400)


def invalid_arg(description: str) -> SimError:
    return SimError("INVALID_ARG_VALUE", description, 400)


def method_not_found(method: str) -> SimError:
    return SimError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


def field_required(name: str) -> SimError:
    return SimError("", f"The field {name} is not defined or invalid", 400)

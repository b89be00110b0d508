"""The portal's errors as the extension sees them, whichever transport carried the call."""

from __future__ import annotations

from typing import Any

# Codes that mean "try again later", not "the request is wrong" (reference §1, §4).
TRANSIENT_CODES = frozenset({"QUERY_LIMIT_EXCEEDED", "OVERLOAD_LIMIT", "OPERATION_TIME_LIMIT",
                             "INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER",
                             "PORTAL_UNAVAILABLE"})


class PortalError(Exception):
    """``{"error": code, "error_description": description}`` with the HTTP ``status``.

    Old CRM methods send an empty ``code`` with the text only in the description (e.g.
    crm.deal.get of an unknown id: HTTP 400 ``{"error": "", "error_description": "Not found"}``).
    ``PORTAL_UNAVAILABLE`` is the extension's own code for a portal it could not reach.
    """

    def __init__(self, code: str, description: str = "", status: int = 400) -> None:
        super().__init__(f"{code or 'error'}: {description}" if description else code)
        self.code = code
        self.description = description
        self.status = status

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES or self.status >= 500

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description}

    @classmethod
    def from_body(cls, body: Any, status: int) -> PortalError:
        if isinstance(body, dict) and "error" in body:
            return cls(str(body.get("error") or ""), str(body.get("error_description") or ""),
                       status)
        return cls("ERROR_UNEXPECTED_ANSWER", f"HTTP {status} without an error body", status)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (Celery, multiprocessing)
        return (type(self), (self.code, self.description, self.status))


def unavailable(why: str) -> PortalError:
    return PortalError("PORTAL_UNAVAILABLE", why, 503)

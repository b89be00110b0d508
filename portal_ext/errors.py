"""The one shape of a refused request: :class:`Refusal`.

A service refuses by raising a :class:`Refusal` (each domain derives its own class in its
``errors.py``) before it changes anything: ``field`` names the input to blame (``None``: the
request as a whole), ``message`` says why for a person (usually a lazily translated string),
and ``kind`` says what sort of refusal it is:

========== ====== ============================================================
kind       status meaning
========== ====== ============================================================
invalid    422    bad input (the API's ``code`` is ``validation``)
forbidden  403    the actor may not do this
not_found  404    what the request is about does not exist
conflict   409    the current state forbids it (a duplicate, the wrong state)
========== ====== ============================================================

``code`` is the stable machine-readable word the API answers with; it follows from the kind
unless a domain needs a finer one (a transfer's undo period over is ``expired``, a conflict).

Two places present a refusal: the API answers ``{"error": {"code", "message", "field"}}`` with
the status (portal_ext.blueprints.api.refusals), and a page attaches the message to the named
form field or flashes it (portal_ext.blueprints.refusals).
"""

from __future__ import annotations

from typing import ClassVar

INVALID, FORBIDDEN, NOT_FOUND, CONFLICT = "invalid", "forbidden", "not_found", "conflict"
KINDS = (INVALID, FORBIDDEN, NOT_FOUND, CONFLICT)
STATUS = {INVALID: 422, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409}
CODES = {INVALID: "validation", FORBIDDEN: "forbidden", NOT_FOUND: "not_found",
         CONFLICT: "conflict"}


class Refusal(Exception):
    """A refused request; see the module's docstring. A subclass may set its own default
    ``kind``."""

    kind: str
    default_kind: ClassVar[str] = INVALID

    def __init__(self, field: str | None, message: object, kind: str | None = None, *,
                 code: str | None = None) -> None:
        super().__init__(str(message))
        self.field = field
        self.message = message
        self.kind = kind or self.default_kind
        if self.kind not in STATUS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        self.code = code or CODES[self.kind]

    @property
    def status(self) -> int:
        """The HTTP status the API answers with."""
        return STATUS[self.kind]


__all__ = ["CODES", "CONFLICT", "FORBIDDEN", "INVALID", "KINDS", "NOT_FOUND", "STATUS",
           "Refusal"]

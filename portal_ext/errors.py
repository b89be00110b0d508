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

A form with several bad fields is refused once for all of them: the service checks every field
inside :class:`FieldChecks` and raises a :class:`Refusals` (a Refusal whose ``field`` and
``message`` are the first one's) when more than one failed. The API then answers the first
field as before plus ``errors``, a list of every ``{"code", "message", "field"}``; a page puts
each message under its field. Example::

    checks = FieldChecks()
    with checks:
        check_name(name)
    with checks:
        check_members(members)
    checks.done()  # raises the one refusal, or Refusals for several, or nothing
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
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


class Refusals(Refusal):
    """Several refusals of one request (bad fields found together); ``refusals`` lists them
    all, the first one's field, message and kind are this refusal's."""

    def __init__(self, refusals: Sequence[Refusal]) -> None:
        if not refusals:
            raise ValueError("Refusals needs at least one refusal")
        first = refusals[0]
        super().__init__(first.field, first.message, first.kind, code=first.code)
        self.refusals = list(refusals)


def each_refusal(error: Refusal) -> list[Refusal]:
    """The refusals ``error`` stands for: itself, or the ones a :class:`Refusals` groups."""
    return list(error.refusals) if isinstance(error, Refusals) else [error]


class FieldChecks:
    """Runs several field checks and keeps every ``invalid`` refusal they raise (a refusal
    of another kind, such as ``forbidden``, stops at once). Use each ``with checks:`` block
    for one check, then :meth:`done`. Checks may also :meth:`add` a refusal directly."""

    def __init__(self) -> None:
        self.found: list[Refusal] = []

    def __enter__(self) -> FieldChecks:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        if isinstance(error, Refusal) and error.kind == INVALID:
            self.add(error)
            return True
        return False

    def add(self, error: Refusal) -> None:
        for one in each_refusal(error):
            if all(one.field != seen.field or one.field is None for seen in self.found):
                self.found.append(one)

    @property
    def failed(self) -> bool:
        return bool(self.found)

    def done(self) -> None:
        """Raise what was found: the one refusal, or :class:`Refusals` for several."""
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise Refusals(self.found)


__all__ = ["CODES", "CONFLICT", "FORBIDDEN", "INVALID", "KINDS", "NOT_FOUND", "STATUS",
           "FieldChecks", "Refusal", "Refusals", "each_refusal"]

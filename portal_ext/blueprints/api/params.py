"""Query parameters of the API, declared once: the same declaration parses a request and
describes the parameter in openapi.json, so the two cannot drift apart.

A value that does not parse or is out of range is 422 ``invalid_parameter``; a parameter the
route does not know is 400 ``unknown_parameter`` (a typo such as ``per_pgae`` must not be
silently ignored and return unfiltered data). Both name the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portal_ext.auth.api_auth import ApiError

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


@dataclass(frozen=True)
class QueryParam:
    name: str
    kind: str  # "integer" | "boolean" | "string" | "date-time"
    description: str
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None

    def parse(self, raw: str) -> Any:
        raw = raw.strip()
        if self.kind == "integer":
            return self._parse_int(raw)
        if self.kind == "boolean":
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise self._invalid("must be true or false")
        if self.kind == "date-time":
            return self._parse_datetime(raw)
        if self.enum is not None and raw not in self.enum:
            raise self._invalid("must be one of " + ", ".join(self.enum))
        if not raw:
            raise self._invalid("must not be empty")
        return raw

    def _parse_int(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise self._invalid("must be a whole number") from None
        if self.minimum is not None and value < self.minimum:
            raise self._invalid(f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise self._invalid(f"must be at most {self.maximum}")
        return value

    def _parse_datetime(self, raw: str) -> datetime:
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise self._invalid("must be an ISO 8601 date and time, "
                                "e.g. 2025-01-31T09:00:00+03:00") from None
        # Stored times are naive UTC; a time without offset is taken as UTC.
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def _invalid(self, why: str) -> ApiError:
        return ApiError(422, "invalid_parameter", f"'{self.name}' {why}.", self.name)

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any]
        if self.kind == "date-time":
            schema = {"type": "string", "format": "date-time"}
        else:
            schema = {"type": self.kind}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        return {"name": self.name, "in": "query", "required": False,
                "description": self.description, "schema": schema}


MAX_PER_PAGE = 100
PAGING: tuple[QueryParam, ...] = (
    QueryParam("page", "integer", "Page number, from 1.", minimum=1, default=1),
    QueryParam("per_page", "integer", f"Items per page, 1 to {MAX_PER_PAGE}.", minimum=1,
               maximum=MAX_PER_PAGE, default=50),
)


def parse_query(specs: Sequence[QueryParam], args: Mapping[str, str]) -> dict[str, Any]:
    """Parse ``args`` against ``specs``: every known name gets its value or its default."""
    known = {spec.name: spec for spec in specs}
    for name in args:
        if name not in known:
            raise ApiError(400, "unknown_parameter",
                           f"Unknown parameter '{name}'. Known: {', '.join(known)}.", name)
    values: dict[str, Any] = {}
    for spec in specs:
        raw = args.get(spec.name)
        values[spec.name] = spec.default if raw is None or raw == "" else spec.parse(raw)
    return values

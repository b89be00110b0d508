"""Query parameters of the API, declared once: the same declaration parses a request and
describes the parameter in openapi.json, so the two cannot drift apart.

A value that does not parse, is empty or is out of range is 422 ``invalid_parameter``; a
parameter the route does not know is 400 ``unknown_parameter`` (a typo such as ``per_pgae``
must not be silently ignored and return unfiltered data). Both name the field.

Bodies are read by :func:`json_object` (a JSON object, else 400 ``bad_request``; an unknown
field is 400 ``unknown_parameter`` under its own name) and ids in them by :func:`body_id` (a
whole number from 1 to ``MAX_ID``, else 422 ``validation`` naming the field).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request

from portal_ext.auth.api_auth import ApiError
from portal_ext.request_bounds import MAX_ID, MAX_JSON_DEPTH, JSONTooDeep

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


@dataclass(frozen=True)
class QueryParam:
    name: str
    # "integer" | "boolean" | "string" | "date-time" | "date-or-time" (kept as the string
    # sent: the route reads it in the portal's time zone)
    kind: str
    description: str
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None

    def parse(self, raw: str) -> Any:
        raw = raw.strip()
        if self.kind == "integer":
            return self._parse_int(raw)
        if not raw:
            raise self._invalid("must not be empty")
        if self.kind == "boolean":
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise self._invalid("must be true or false")
        if self.kind == "date-time":
            return self._parse_datetime(raw)
        if self.kind == "date-or-time":
            return raw
        if self.enum is not None and raw not in self.enum:
            raise self._invalid("must be one of " + ", ".join(self.enum))
        return raw

    def _parse_int(self, raw: str) -> int:
        digits = raw.lstrip("+-0")
        if raw.isascii() and digits.isdigit() and len(digits) > 19:  # far past any limit
            raise self._invalid("must be a whole number from "
                                f"{self.minimum if self.minimum is not None else 0} to "
                                f"{self.maximum if self.maximum is not None else MAX_ID}")
        try:
            if not raw.isascii():
                raise ValueError(raw)
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
            try:
                value = value.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:  # before year 1 or after 9999 in UTC: the calendar's end
                value = datetime.min if value.year == 1 else datetime.max
        return value

    def _invalid(self, why: str) -> ApiError:
        return ApiError(422, "invalid_parameter", f"'{self.name}' {why}.", self.name)

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any]
        if self.kind == "date-time":
            schema = {"type": "string", "format": "date-time"}
        elif self.kind == "date-or-time":
            schema = {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}
        else:
            schema = {"type": self.kind}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        elif self.kind == "string":
            schema["pattern"] = r"\S"  # not empty, not only spaces
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        return {"name": self.name, "in": "query", "required": False,
                "description": self.description, "schema": schema}


MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000
PAGING: tuple[QueryParam, ...] = (
    QueryParam("page", "integer", "Page number, from 1.", minimum=1, maximum=MAX_PAGE,
               default=1),
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
        values[spec.name] = spec.default if raw is None else spec.parse(raw)
    return values


def id_param(name: str, description: str) -> QueryParam:
    """A query parameter holding an id (a portal user, a department...)."""
    return QueryParam(name, "integer", description, minimum=1, maximum=MAX_ID)


def json_object(fields: Sequence[str]) -> dict[str, Any]:
    """The request's JSON object, whose names are all in ``fields``."""
    if not request.is_json:
        raise ApiError(400, "bad_request", "Send a JSON object (Content-Type: application/json).")
    try:
        body = current_app.json.loads(request.get_data(cache=True))
    except JSONTooDeep:
        raise ApiError(400, "bad_request", f"The JSON body is nested more than "
                                           f"{MAX_JSON_DEPTH} levels deep.") from None
    except ValueError:
        raise ApiError(400, "bad_request", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "Send a JSON object.")
    for name in body:
        if name not in fields:
            raise ApiError(400, "unknown_parameter",
                           f"Unknown field '{name}'. Known: {', '.join(fields)}.", name)
    return body


def body_id(value: Any, field: str, *, what: str = "an id") -> int:
    """``value`` as an id (1 .. MAX_ID); else 422 naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ApiError(422, "validation", f"'{field}' must be {what}: a whole number from 1 to "
                                          f"{MAX_ID}.", field)
    return value


ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def path_id(name: str, description: str) -> dict[str, Any]:
    """A path parameter holding an id: a larger number or anything else is 404."""
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": ID_SCHEMA}

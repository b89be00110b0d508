"""Bounds on what a request may carry, so that no input can crash the app.

Size, per kind of route, from the settings: the event webhook
(``WEBHOOK_MAX_BYTES``), the JSON API (``API_MAX_BYTES``) and everything else, the pages' forms
(``FORM_MAX_BYTES``). A larger body is answered 413 before it is read or parsed (a declared
``Content-Length`` at once; a chunked body as soon as the limit is passed), and nothing is
stored. Errors are JSON on the webhook and the API, a page elsewhere.

JSON nested deeper than ``MAX_JSON_DEPTH`` is not valid JSON to the app (``get_json`` fails as
for a syntax error), so no parser recursion can exhaust the stack. An ``<int:...>`` in a route
matches only 0 .. ``MAX_ID``: a larger number is 404."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.wrappers import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

WEBHOOK_PATH = "/events/webhook"
API_PREFIX = "/api/"
MAX_JSON_DEPTH = 32
# Ids, the portal's and the extension's own, are kept in INTEGER columns (32-bit signed on
# PostgreSQL, which refuses a larger value even in a comparison): a valid id is 1 .. MAX_ID.
MAX_ID = 2**31 - 1
_JSON_SPECIAL = re.compile(r'[\\"\[\]{}]')


def body_limit(config: Mapping[str, Any], path: str) -> int:
    if path == WEBHOOK_PATH:
        return int(config["WEBHOOK_MAX_BYTES"])
    if path.startswith(API_PREFIX):
        return int(config["API_MAX_BYTES"])
    return int(config["FORM_MAX_BYTES"])


class LimitedRequest(Request):
    """A request whose body limit is its route's (Flask's default is the app-wide
    ``MAX_CONTENT_LENGTH``); a view may still set its own."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None:
            return self._max_content_length
        if not current_app:
            return None
        return body_limit(current_app.config, self.path)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def max_form_memory_size(self) -> int | None:
        if self._max_form_memory_size is not None:
            return self._max_form_memory_size
        return self.max_content_length

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self._max_form_memory_size = value


def _refuse_oversize() -> None:
    """A body declared larger than the route's limit is refused before anything reads it
    (authentication included). A chunked body, which declares no length, is read up to one
    byte past the limit (the stream stops there) and refused if it got that far."""
    limit = request.max_content_length
    if limit is None:
        return
    if request.content_length is not None:
        if request.content_length > limit:
            raise RequestEntityTooLarge()
    elif request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        request.max_content_length = limit + 1
        if len(request.get_data(cache=True)) > limit:
            request.max_content_length = limit
            raise RequestEntityTooLarge()
        request.max_content_length = limit


def too_large(error: RequestEntityTooLarge) -> Any:
    limit = request.max_content_length
    message = (f"The request is larger than this address accepts ({limit} bytes)."
               if limit is not None else "The request is too large.")
    if request.path == WEBHOOK_PATH or request.path.startswith(API_PREFIX):
        response = jsonify({"error": {"code": "too_large", "message": message, "field": None}})
        response.status_code = 413
        return response
    from flask_babel import gettext as _

    from portal_ext.blueprints.errors import error_page

    return error_page(413, _("Bad request"), _("The request could not be understood."))


class JSONTooDeep(ValueError):
    pass


def check_json_depth(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`JSONTooDeep` when ``text`` nests arrays and objects deeper than ``limit``
    (brackets inside strings do not count). One pass over the characters that matter."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    depth, in_string, escaped_until = 0, False, -1
    for found in _JSON_SPECIAL.finditer(text):
        position, char = found.start(), found.group()
        if position < escaped_until:
            continue
        if in_string:
            if char == "\\":
                escaped_until = position + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                raise JSONTooDeep(f"JSON nested more than {limit} levels deep")
        elif char in "]}":
            depth -= 1


class BoundedJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        check_json_depth(s)
        return super().loads(s, **kwargs)


def digits_at_most(limit: int) -> str:
    """A regular expression matching the decimal numbers 0 .. ``limit`` (no sign)."""
    top = str(limit)
    options = [f"[0-9]{{1,{len(top) - 1}}}"] if len(top) > 1 else []
    for index, digit in enumerate(top):
        if digit != "0":
            rest = len(top) - index - 1
            options.append(top[:index] + f"[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}"
                                                                      if rest else ""))
    options.append(top)
    return "(?:" + "|".join(options) + ")"


class BoundedInteger(IntegerConverter):
    """``<int:...>`` of at most ``MAX_ID``: a larger number does not match the route at all
    (so it is 404 whatever the method), and is never converted."""

    regex = digits_at_most(MAX_ID)


def init_app(app: Flask) -> None:
    """Call before any route is registered (the ``int`` converter applies from then on)."""
    app.url_map.converters["int"] = BoundedInteger
    app.json = BoundedJSONProvider(app)
    app.request_class = LimitedRequest
    # First of the before-request functions: CSRF protection reads the form in its own.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_oversize)
    app.register_error_handler(RequestEntityTooLarge, too_large)

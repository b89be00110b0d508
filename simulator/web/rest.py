"""The REST endpoint, as a portal serves it (docs: settings/how-to-call-rest-api/
general-principles.md, local-integrations/local-webhooks.md, error-codes.md).

- Incoming webhook: ``/rest/<user_id>/<token>/<method>``; OAuth: ``/rest/<method>`` with
  ``auth=<access_token>`` in the query or the body. ``.json`` after the method is the default
  transport. ``.xml`` is not simulated: it answers HTTP 400 ``INVALID_REQUEST`` in JSON, so a
  client learns at once instead of failing to parse XML.
- Parameters: the query string (PHP-style nesting, simulator.core.phpquery) merged with the body,
  which may be JSON, urlencoded or multipart; body names win over query names.
- Method names fold case (fast_bitrix24 lowercases them).
- Wrong webhook token, or a dismissed webhook owner: 401 ``NO_AUTH_FOUND`` "Wrong authorization
  data" (the portal's own words in CRestUtil::checkAuth). OAuth: 401 ``invalid_token`` or
  ``expired_token``; no ``auth`` at all: 401 ``NO_AUTH_FOUND``.
- A JSON array body is positional parameters ``{"0": ..., "1": ...}``, as PHP decodes it
  (methods such as ``task.commentitem.add`` read their arguments by position).
- Success: ``{"result", "next"?, "total"?, "time"}``; errors: ``{"error", "error_description"}``
  with the SimError's status; a body that is not valid JSON, or a JSON scalar: 400
  ``INVALID_REQUEST``; an
  unknown method: 404 ``ERROR_METHOD_NOT_FOUND``; anything unexpected: 500
  ``INTERNAL_SERVER_ERROR`` (logged).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from simulator import oauth
from simulator.core import caller, phpquery
from simulator.core.errors import (
    BodyNotParameters,
    MalformedJson,
    NoAuth,
    SimError,
    XmlNotSimulated,
)
from simulator.core.ratelimit import OVER_HTTP, limits_for, time_figures
from simulator.web import current_sim, json_response

log = logging.getLogger(__name__)

bp = Blueprint("sim_rest", __name__)

_METHODS = ["GET", "POST"]


@bp.route("/rest/<int:user_id>/<token>/<method>", methods=_METHODS)
def webhook_call(user_id: int, token: str, method: str) -> Response:
    def authenticate(_params: dict[str, Any]) -> int:
        if not current_sim().check_webhook(user_id, token):
            raise NoAuth()
        return user_id

    return _serve(method, authenticate)


@bp.route("/rest/<method>", methods=_METHODS)
def oauth_call(method: str) -> Response:
    def authenticate(params: dict[str, Any]) -> int:
        token = params.get("auth")
        if not token or not isinstance(token, str):
            raise NoAuth()
        user_id = oauth.user_for_access_token(current_sim(), token)
        # The call comes from the application the token was issued to (simulator.core.caller).
        caller.CALLER_APP.set(oauth.client_for_access_token(current_sim(), token))
        return user_id

    with caller.as_app(None):
        return _serve(method, authenticate)


def _serve(method: str, authenticate: Callable[[dict[str, Any]], int]) -> Response:
    sim = current_sim()
    started_at = sim.clock.now()
    began = time.perf_counter()
    try:
        name = _method_name(method)
        params = read_params()
        user_id = authenticate(params)
        params.pop("auth", None)
        limits = limits_for(sim)
        limits.admit(name)
        handler_began = time.perf_counter()
        over_http = OVER_HTTP.set(True)
        try:
            envelope = sim.call(name, params, user_id=user_id)
        finally:
            OVER_HTTP.reset(over_http)
        processing = time.perf_counter() - handler_began
        if name != "batch":  # the outer batch is not counted; its commands are (limits.md)
            limits.operating.record(name, processing)
        envelope["time"] = time_figures(sim, started_at, duration=time.perf_counter() - began,
                                        processing=processing,
                                        operating=limits.operating.total(name))
        return json_response(envelope)
    except SimError as error:
        return json_response(error.as_dict(), error.status)
    except Exception:
        log.exception("REST call %s failed", method)
        return json_response({"error": "INTERNAL_SERVER_ERROR",
                              "error_description": "Internal server error"}, 500)


def _method_name(method: str) -> str:
    name = method.strip().lower()
    if name.endswith(".xml"):
        raise XmlNotSimulated()
    return name.removesuffix(".json")


def read_params() -> dict[str, Any]:
    """The request's parameters: the query string merged with the body (the body wins)."""
    params = phpquery.parse(request.query_string.decode("utf-8", "replace"))
    params.update(_body())
    return params


def _body() -> dict[str, Any]:
    mimetype = request.mimetype or ""
    if mimetype == "multipart/form-data":
        return phpquery.parse_pairs(request.form.items(multi=True))
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    text = raw.decode("utf-8", "replace")
    looks_like_json = text.lstrip().startswith(("{", "["))
    if mimetype == "application/json" or mimetype.endswith("+json") or (
            mimetype != "application/x-www-form-urlencoded" and looks_like_json):
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise MalformedJson(detail=exc) from None
        if isinstance(body, list):
            # Positional parameters, as PHP reads a JSON array: keys 0, 1, ... (fast_bitrix24's
            # ``call("task.commentitem.add", [task_id, {...}], raw=True)``).
            return {str(index): value for index, value in enumerate(body)}
        if not isinstance(body, dict):
            raise BodyNotParameters()
        return body
    return phpquery.parse(text)

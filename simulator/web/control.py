"""The control plane at ``/_sim/``: JSON endpoints that tests, scenarios and people use to drive
the simulated portal (moto's ``/moto-api/`` in spirit). Not part of the portal's API.

Guard: when ``PORTAL_SIM_CONTROL_TOKEN`` is set (or ``create_app(control_token=...)``), every
call must carry the token in the ``X-Sim-Token`` header, as ``Authorization: Bearer <token>``,
or in the ``token`` query parameter; otherwise 401. The values ``1``, ``true``, ``yes`` and
``webhook`` mean "the incoming-webhook token of user 1"; any other value is itself the token.
Unset means no guard, but a server listening beyond loopback (the demo, ``python -m simulator
serve --host 0.0.0.0``) calls :func:`guard_beyond_loopback`, which then makes a token once,
keeps it in the portal's settings (as the webhook token is kept) and the server prints it.
These are JSON calls from scripts, not forms, so CSRF does not apply.

Bad input answers 400 ``{"error": "INVALID_ARG_VALUE", "error_description", "field"}`` and
changes nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import ipaddress
import logging
import os
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from simulator import oauth
from simulator.core.errors import SimError
from simulator.core.ratelimit import limits_for
from simulator.core.timefmt import parse_portal_datetime
from simulator.im import tables as im_tables
from simulator.users import tables as users_tables
from simulator.web import current_sim, json_response

log = logging.getLogger(__name__)

bp = Blueprint("sim_control", __name__, url_prefix="/_sim")

_WEBHOOK_WORDS = {"1", "true", "yes", "webhook"}
CONTROL_TOKEN_SETTING = "control_token"  # where a generated token is kept (sim.settings)
_GENERATOR_INTS = ("companies", "activities", "seed")  # when the generator can't be inspected


class BadInput(Exception):
    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description


def configure(app: Flask, control_token: str | None) -> None:
    token = control_token if control_token is not None else os.environ.get(
        "PORTAL_SIM_CONTROL_TOKEN", "")
    app.config["SIM_CONTROL_TOKEN"] = token or ""


def _token_for(app: Flask) -> str | None:
    configured = str(app.config.get("SIM_CONTROL_TOKEN") or "")
    if not configured:
        return None
    sim = app.extensions["simulator"]
    return str(sim.webhook_token) if configured.lower() in _WEBHOOK_WORDS else configured


def is_loopback(host: str) -> bool:
    """Whether a server listening on ``host`` can be reached from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def guard_beyond_loopback(app: Flask, host: str) -> str | None:
    """Require a control token on ``app`` if it will listen on ``host`` beyond loopback: the
    configured one, else one made once and kept in the portal's settings. Returns the token
    callers must send, or None when the control plane stays open (loopback, none configured)."""
    if not app.config.get("SIM_CONTROL_TOKEN") and not is_loopback(host):
        sim = app.extensions["simulator"]
        token = sim.settings.get(CONTROL_TOKEN_SETTING) or secrets.token_urlsafe(24)
        sim.settings.set(CONTROL_TOKEN_SETTING, token)
        app.config["SIM_CONTROL_TOKEN"] = token
    return _token_for(app)


def _given_token() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" else ""
    return request.headers.get("X-Sim-Token") or bearer or request.args.get("token") or ""


@bp.before_request
def _guard() -> Response | None:
    expected = _token_for(current_app)
    if expected is None:
        return None
    if not secrets.compare_digest(_given_token().encode(), expected.encode()):
        return json_response({"error": "NO_AUTH_FOUND",
                              "error_description": "Control token required (X-Sim-Token or "
                                                   "Authorization: Bearer)",
                              "field": "token"}, 401)
    return None


@bp.errorhandler(BadInput)
def _bad_input(error: BadInput) -> Response:
    return json_response({"error": "INVALID_ARG_VALUE", "error_description": error.description,
                          "field": error.field}, 400)


@bp.errorhandler(SimError)
def _sim_error(error: SimError) -> Response:
    return json_response(error.as_dict(), error.status)


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return json_response({"error": error.name.upper().replace(" ", "_"),
                              "error_description": error.description or ""}, error.code or 500)
    log.exception("control call %s failed", request.path)
    return json_response({"error": "INTERNAL_SERVER_ERROR",
                          "error_description": f"{type(error).__name__}: {error}"}, 500)


def _body() -> dict[str, Any]:
    if not request.get_data(cache=True).strip():
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise BadInput("body", "The body must be a JSON object")
    return body


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise BadInput(key, f"Unknown field '{key}'; expected one of {', '.join(allowed)}")


def _int(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadInput(field, f"'{field}' must be an integer >= {minimum}")
    return value


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(field, f"'{field}' must be a number")
    return float(value)


def _generator_fields() -> tuple[tuple[str, ...], bool]:
    """The large-portal generator's integer keyword parameters, and whether it takes
    ``progress`` (a console progress bar, which a server turns off)."""
    if importlib.util.find_spec("simulator.scenarios.generator") is None:
        return _GENERATOR_INTS, False
    generate = importlib.import_module("simulator.scenarios.generator").generate
    keywords = [p for p in inspect.signature(generate).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY]
    names = tuple(p.name for p in keywords if p.name != "progress")
    return names or _GENERATOR_INTS, any(p.name == "progress" for p in keywords)


# -- the portal's state --------------------------------------------------------------------------
@bp.post("/reset")
def reset() -> Response:
    sim = current_sim()
    apps = oauth.list_apps(sim)  # registered applications outlive a reset, as installed apps do
    sim.reset()
    oauth.restore_apps(sim, apps)
    limits_for(sim).reset()
    return json_response({"result": True})


@bp.post("/seed")
def seed() -> Response:
    body = _body()
    fixture = body.get("fixture")
    generator = {k: v for k, v in body.items() if k != "fixture"}
    if fixture is not None:
        if not isinstance(fixture, str) or not fixture:
            raise BadInput("fixture", "'fixture' must be the name of a fixture, e.g. \"demo\"")
        if generator:
            raise BadInput(next(iter(generator)), "Give either a fixture or generator parameters")
    elif not generator:
        raise BadInput("fixture", "Give a fixture (\"demo\") or generator parameters")
    fields, has_progress = _generator_fields()
    _only(generator, fields)
    for key, value in generator.items():
        _int(value, key)
    if has_progress and fixture is None:
        generator["progress"] = False
    try:
        summary = current_sim().seed(fixture, **generator)
    except SimError as error:
        raise BadInput("fixture", error.description) from None
    return json_response({"result": summary})


@bp.get("/clock")
def clock_get() -> Response:
    return json_response(current_sim().clock.describe())


@bp.post("/clock")
def clock_set() -> Response:
    sim = current_sim()
    body = _body()
    _only(body, ("now", "advance_seconds", "frozen"))
    if not body:
        raise BadInput("now", "Give 'now', 'advance_seconds' or 'frozen'")
    frozen = body.get("frozen")
    if "frozen" in body and not isinstance(frozen, bool):
        raise BadInput("frozen", "'frozen' must be true or false")
    when: datetime | None = None
    if "now" in body:
        if not isinstance(body["now"], str) or not body["now"].strip():
            raise BadInput("now", "'now' must be an ISO 8601 date-time")
        try:
            when = parse_portal_datetime(body["now"], sim.tz, field="now")
        except SimError:
            raise BadInput("now", "'now' must be an ISO 8601 date-time") from None
    advance = _number(body["advance_seconds"], "advance_seconds") \
        if "advance_seconds" in body else None
    if when is not None and advance is not None:
        raise BadInput("advance_seconds", "Give either 'now' or 'advance_seconds'")

    if when is not None:
        sim.clock.set(when, frozen=frozen is not False)
    elif advance is not None:
        sim.clock.advance(advance)
        if frozen is not None:
            sim.clock.set(sim.clock.now(), frozen=frozen)
    elif frozen:
        sim.clock.set(sim.clock.now(), frozen=True)
    else:
        sim.clock.unfreeze()  # back to the wall clock
    return json_response(sim.clock.describe())


@bp.get("/inbox/<int:user_id>")
def inbox(user_id: int) -> Response:
    sim = current_sim()
    limit = _limit()
    table = im_tables.notifications
    with sim.engine.connect() as conn:
        users = users_tables.users
        if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
            return json_response({"error": "NOT_FOUND", "error_description": "No such user",
                                  "field": "user_id"}, 404)
        rows = conn.execute(select(table).where(table.c.user_id == user_id)
                            .order_by(table.c.created_at.desc(), table.c.id.desc())
                            .limit(limit)).mappings().all()
    items = [{**dict(row), "created_at": sim.to_portal_iso(row["created_at"])} for row in rows]
    return json_response({"result": items})


@bp.get("/webhooks")
def webhooks() -> Response:
    deliveries = list(reversed(current_sim().bus.deliveries))[: _limit()]
    return json_response({"result": deliveries})


def _limit() -> int:
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise BadInput("limit", "'limit' must be an integer from 1 to 500")
    return int(raw)


# -- settings and time-driven work ---------------------------------------------------------------
@bp.get("/settings")
def settings_get() -> Response:
    sim = current_sim()
    return json_response({"rate_limit": limits_for(sim).config(),
                          "timezone": str(sim.tz), "webhook_url": sim.webhook_url(1)})


@bp.post("/settings")
def settings_set() -> Response:
    sim = current_sim()
    body = _body()
    _only(body, ("rate_limit", "timezone"))
    rate: dict[str, Any] = {}
    if "rate_limit" in body:
        given = body["rate_limit"]
        if not isinstance(given, dict):
            raise BadInput("rate_limit", "'rate_limit' must be an object")
        _only(given, ("enabled", "x", "y", "operating_limit"))
        if "enabled" in given:
            if not isinstance(given["enabled"], bool):
                raise BadInput("rate_limit.enabled", "'enabled' must be true or false")
            rate["enabled"] = given["enabled"]
        if "x" in given:
            rate["x"] = _int(given["x"], "rate_limit.x", minimum=1)
        if "y" in given:
            rate["y"] = _number(given["y"], "rate_limit.y")
            if rate["y"] <= 0:
                raise BadInput("rate_limit.y", "'y' must be greater than 0")
        if given.get("operating_limit") is not None:
            rate["operating_limit"] = _number(given["operating_limit"],
                                              "rate_limit.operating_limit")
        elif "operating_limit" in given:
            rate["operating_limit"] = None
    zone_name = body.get("timezone")
    if "timezone" in body:
        try:
            ZoneInfo(str(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            raise BadInput("timezone", f"Unknown time zone '{zone_name}'") from None
    if rate:
        limits_for(sim).configure(**rate)
    if zone_name is not None:
        sim.settings.set("timezone", str(zone_name))
    return settings_get()


@bp.post("/tick")
def tick() -> Response:
    if importlib.util.find_spec("simulator.ticks") is None:
        return json_response({"error": "NOT_AVAILABLE",
                              "error_description": "This simulator has no time-driven ticks"},
                             501)
    ticks = importlib.import_module("simulator.ticks")
    return json_response({"result": ticks.tick(current_sim())})

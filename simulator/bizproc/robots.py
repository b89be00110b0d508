"""``bizproc.robot.add/update/list/delete``, ``bizproc.event.send`` and ``app.info``
(reference wave 2 §1.6; [D] api-reference/bizproc/bizproc-robot/*.md,
bizproc/bizproc-event-send.md).

- Every ``bizproc.*`` method answers only an installed application (an OAuth call,
  simulator.core.caller); through an incoming webhook it is 403 ``ACCESS_DENIED``
  "Application context required". Adding, updating and deleting robots needs an
  administrator too.
- A robot belongs to the application that added it: ``CODE`` is unique per application
  (``a-zA-Z0-9._-``), and the ``HANDLER`` must be on the application's own address (the
  scheme and host of its registered redirect URI, as the portal checks the app's domain).
- ``bizproc.robot.list`` returns the calling application's robot codes.
- ``bizproc.event.send`` answers a run: ``EVENT_TOKEN`` must be a run of one of the calling
  application's robots that waits for an answer (``USE_SUBSCRIPTION`` not ``N``), else
  ``ACCESS_DENIED``; ``RETURN_VALUES`` keeps only the robot's ``RETURN_PROPERTIES``. A run is
  answered once; a second answer is refused the same way, as a stale token is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from simulator import oauth
from simulator.bizproc import tables
from simulator.bizproc.errors import (
    AdminRequired,
    AppContextRequired,
    EventTokenInvalid,
    EventTokenMissing,
    RobotExists,
    RobotInvalid,
    RobotNotFound,
)
from simulator.core import caller
from simulator.core import tables as core_tables
from simulator.core.context import Ctx
from simulator.core.params import Params
from simulator.core.registry import method
from simulator.users import is_admin

_CODE = re.compile(r"^[a-zA-Z0-9._\-]{1,128}$")
TYPES = ("bool", "date", "datetime", "double", "file", "int", "select", "string", "text", "user")
R = tables.robots


def app_context() -> str:
    client_id = caller.caller_app()
    if not client_id:
        raise AppContextRequired()
    return client_id


def _admin_app(ctx: Ctx) -> str:
    client_id = app_context()
    if not is_admin(ctx, ctx.user_id):
        raise AdminRequired()
    return client_id


def _code(params: Params) -> str:
    code = params.get("CODE")
    if not isinstance(code, str) or not _CODE.match(code):
        raise RobotInvalid(detail="CODE is required: letters, digits, '.', '_' and '-'")
    return code


def _name(value: Any, field: str, *, required: bool) -> Any:
    if value is None or value == "":
        if required:
            raise RobotInvalid(detail=f"{field} is required")
        return None
    if isinstance(value, str) or (isinstance(value, Mapping) and value and all(
            isinstance(v, str) for v in value.values())):
        return value
    raise RobotInvalid(detail=f"{field} must be a string or a map of languages")


def _properties(value: Any, field: str) -> dict[str, Any]:
    if value is None or value == "" or value == []:
        return {}
    if not isinstance(value, Mapping):
        raise RobotInvalid(detail=f"{field} must be an object")
    found: dict[str, Any] = {}
    for key, spec in value.items():
        if not isinstance(spec, Mapping) or not _name(spec.get("Name"), f"{field}[{key}][Name]",
                                                      required=True):
            raise RobotInvalid(detail=f"{field}[{key}] needs a Name")
        kind = str(spec.get("Type") or "string")
        if kind not in TYPES:
            raise RobotInvalid(detail=f"{field}[{key}][Type] must be one of {', '.join(TYPES)}")
        found[str(key)] = dict(spec)
    return found


def _handler(ctx: Ctx, client_id: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise RobotInvalid(detail="HANDLER must be the application's URL")
    app = app_row(ctx, client_id)
    if app.get("redirect_uri") and not oauth.redirect_allowed(app, value):
        raise RobotInvalid(detail="HANDLER must be on the application's own domain")
    return value


def _fields(ctx: Ctx, client_id: str, source: Mapping[str, Any], *, partial: bool
            ) -> dict[str, Any]:
    folded = {str(k).upper(): v for k, v in source.items()}
    values: dict[str, Any] = {}
    if "HANDLER" in folded or not partial:
        values["handler"] = _handler(ctx, client_id, folded.get("HANDLER"))
    if "NAME" in folded or not partial:
        values["name"] = _name(folded.get("NAME"), "NAME", required=True)
    if "DESCRIPTION" in folded:
        values["description"] = _name(folded.get("DESCRIPTION"), "DESCRIPTION", required=False)
    if "AUTH_USER_ID" in folded:
        raw = str(folded.get("AUTH_USER_ID") or "")
        values["auth_user_id"] = int(raw) if raw.isdigit() else None
    if "USE_SUBSCRIPTION" in folded or not partial:
        flag = str(folded.get("USE_SUBSCRIPTION") or "").upper()
        if flag not in ("", "Y", "N"):
            raise RobotInvalid(detail="USE_SUBSCRIPTION must be Y or N")
        values["use_subscription"] = flag
    for key, column in (("PROPERTIES", "properties"), ("RETURN_PROPERTIES", "return_properties")):
        if key in folded or not partial:
            values[column] = _properties(folded.get(key), key)
    if "DOCUMENT_TYPE" in folded:
        values["document_type"] = folded.get("DOCUMENT_TYPE")
    values["updated_at"] = ctx.now
    return values


def app_row(ctx: Ctx, client_id: str) -> dict[str, Any]:
    """The application's registration, read in the call's own transaction."""
    apps = core_tables.apps
    row = ctx.conn.execute(select(apps).where(apps.c.client_id == client_id)).mappings().first()
    return dict(row) if row else {}


def robot_row(ctx: Ctx, client_id: str, code: str) -> Any:
    return ctx.conn.execute(select(R).where(R.c.client_id == client_id, R.c.code == code)
                            ).mappings().first()


@method("bizproc.robot.add")
def robot_add(ctx: Ctx, params: Params) -> Any:
    client_id = _admin_app(ctx)
    code = _code(params)
    values = _fields(ctx, client_id, params.raw, partial=False)
    if robot_row(ctx, client_id, code) is not None:
        raise RobotExists()
    ctx.conn.execute(R.insert().values(client_id=client_id, code=code, created_at=ctx.now,
                                       **values))
    return True


@method("bizproc.robot.update")
def robot_update(ctx: Ctx, params: Params) -> Any:
    client_id = _admin_app(ctx)
    code = _code(params)
    fields = params.get("FIELDS")
    if not isinstance(fields, Mapping) or not fields:
        raise RobotInvalid(detail="FIELDS is required")
    row = robot_row(ctx, client_id, code)
    if row is None:
        raise RobotNotFound()
    ctx.conn.execute(R.update().where(R.c.id == row["id"])
                     .values(**_fields(ctx, client_id, fields, partial=True)))
    return True


@method("bizproc.robot.delete")
def robot_delete(ctx: Ctx, params: Params) -> Any:
    client_id = _admin_app(ctx)
    row = robot_row(ctx, client_id, _code(params))
    if row is None:
        raise RobotNotFound()
    ctx.conn.execute(tables.placements.delete().where(tables.placements.c.robot_id == row["id"]))
    ctx.conn.execute(R.delete().where(R.c.id == row["id"]))
    return True


@method("bizproc.robot.list")
def robot_list(ctx: Ctx, params: Params) -> Any:
    client_id = app_context()
    return [row.code for row in ctx.conn.execute(
        select(R.c.code).where(R.c.client_id == client_id).order_by(R.c.id))]


@method("bizproc.event.send")
def event_send(ctx: Ctx, params: Params) -> Any:
    client_id = app_context()
    token = params.get("EVENT_TOKEN")
    if not isinstance(token, str) or not token:
        raise EventTokenMissing()
    runs = tables.runs
    run = ctx.conn.execute(select(runs).where(runs.c.event_token == token)).mappings().first()
    if run is None or run["client_id"] != client_id or run["state"] not in ("sent", "failed"):
        raise EventTokenInvalid()
    robot = ctx.conn.execute(select(R.c.return_properties, R.c.use_subscription)
                             .where(R.c.id == run["robot_id"])).first()
    if robot is None or robot.use_subscription == "N":
        raise EventTokenInvalid()
    given = params.get("RETURN_VALUES")
    given = dict(given) if isinstance(given, Mapping) else {}
    kept = {key: given[key] for key in (robot.return_properties or {}) if key in given}
    message = params.get("LOG_MESSAGE")
    ctx.conn.execute(runs.update().where(runs.c.id == run["id"]).values(
        state="completed", return_values=kept, answered_at=ctx.now,
        log_message=str(message)[:2000] if message not in (None, "") else None))
    return True


@method("app.info")
def app_info(ctx: Ctx, params: Params) -> Any:
    """The calling application (only an application's call has one)."""
    client_id = app_context()
    app = app_row(ctx, client_id)
    installed = ctx.conn.execute(select(tables.installs.c.id).where(
        tables.installs.c.client_id == client_id)).first() is not None
    return {"ID": 1, "CODE": client_id, "VERSION": 1, "STATUS": "L",
            "INSTALLED": installed, "PAYMENT_EXPIRED": "N", "DAYS": None,
            "LANGUAGE_ID": "ru", "LICENSE": "ru_project", "NAME": app.get("name", "")}

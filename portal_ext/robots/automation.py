"""The extension as a robot of the portal's own automation ("Create a guarded task").

Bitrix24's automation editor places robots on a lead status or deal stage; an application
may add robots of its own with ``bizproc.robot.add``, in its own context only (reference wave 2
§1.6). This module:

- registers the robot (:func:`register_robot`, idempotent: ``bizproc.robot.update`` when the
  portal lists its code already), with the properties an administrator fills in the editor:
  the task's title and description (with the stage robots' placeholders), the responsible
  (``responsible``: the item's; ``head``: the responsible's nearest department head; or a
  user id, ``user_5`` as the editor's user field sends it), the working hours to
  the deadline, and the deadline policy (a mode of the deadline guard, or empty for the
  robots' policy); ``USE_SUBSCRIPTION=Y`` (the portal waits for the answer) and the created
  task's id as its return value;
- answers a robot run (:func:`run_robot`): the portal posts ``document_id``
  (``["crm", "CCrmDocumentLead", "LEAD_12"]``), ``properties`` and ``event_token``; the call is
  recorded once per event token (``robot_app_call``), the task is created
  (:func:`create_guarded_task`) and the portal hears the task id through
  ``bizproc.event.send``. A replayed event token creates nothing: it is answered from the
  record.

A run's record is committed before the task is made, so a delivery arriving twice at once
makes one task; a crash between the two leaves the record without a task and a replay does
not retry it (the portal does not resend robot calls either): the record shows it as
``failed`` with the reason, or ``received`` when the process died.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)

ROBOT_CODE = "portal_ext_guarded_task"
LANGUAGES = ("ru", "en")
MAX_HOURS = 2000  # about a working year
MAX_TITLE = 255
MAX_DESCRIPTION = 10000
MAX_TOKEN = 255
# document_id's second part -> the entity
DOCUMENTS = {"CCrmDocumentLead": "lead", "CCrmDocumentDeal": "deal"}
_DOCUMENT_KEY = re.compile(r"^(LEAD|DEAL)_([0-9]{1,10})$")

# RobotCall.state
RECEIVED, CREATED, ANSWERED, FAILED = "received", "created", "answered", "failed"


class RobotCall(db.Model):  # type: ignore[name-defined]
    """One run of the robot as the portal called it: by its event token, once."""

    __tablename__ = "robot_app_call"
    __table_args__ = (UniqueConstraint("portal_id", "event_token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portal.id"), index=True)
    event_token: Mapped[str] = mapped_column(String(MAX_TOKEN))
    workflow_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entity: Mapped[str] = mapped_column(String(16))  # lead | deal
    item_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=RECEIVED)
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # naive UTC
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class BadRobotCall(Exception):
    """A robot call the portal would not send: ``field`` names the part at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# -- the robot's definition ------------------------------------------------------------------------
def _in_each_language(text: Any) -> dict[str, str]:
    """``text`` (a lazy gettext call) in each of the portal's languages, as the portal takes a
    robot's names: ``{"ru": ..., "en": ...}``."""
    found = {}
    for language in LANGUAGES:
        with force_locale(language):
            found[language] = str(text())
    return found


def robot_fields(handler_url: str, *, auth_user_id: int = 1) -> dict[str, Any]:
    """``bizproc.robot.add``'s parameters, without ``CODE``."""
    from portal_ext.deadlines.rules import MODES

    def policy_options() -> dict[str, str]:
        names = {"free": _("Free"), "reason_required": _("A reason is required"),
                 "approval_required": _("An approval is required"), "locked": _("Locked")}
        return {"": _("The robots' policy"), **{mode: names[mode] for mode in MODES}}

    options: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        with force_locale(language):
            options[language] = policy_options()
    language = _language()
    return {
        "HANDLER": handler_url,
        "AUTH_USER_ID": auth_user_id,
        "USE_SUBSCRIPTION": "Y",
        "NAME": _in_each_language(lambda: _("Create a guarded task")),
        "DESCRIPTION": _in_each_language(lambda: _(
            "Creates a task bound to the item, due in working hours, under a deadline "
            "policy.")),
        "DOCUMENT_TYPE": ["crm", "CCrmDocumentLead", "LEAD"],
        "PROPERTIES": {
            "title": {"Name": _in_each_language(lambda: _("Task title")), "Type": "string",
                      "Required": "Y", "Multiple": "N", "Default": "{TITLE}"},
            "description": {"Name": _in_each_language(lambda: _("Task description")),
                            "Type": "text", "Required": "N", "Multiple": "N"},
            "responsible": {"Name": _in_each_language(lambda: _("Responsible")),
                            "Description": _in_each_language(lambda: _(
                                "responsible (the item's), head (their head) or a user id")),
                            "Type": "string", "Required": "Y", "Multiple": "N",
                            "Default": "responsible"},
            "working_hours": {"Name": _in_each_language(lambda: _("Deadline, working hours")),
                              "Type": "int", "Required": "Y", "Multiple": "N", "Default": 4},
            "policy": {"Name": _in_each_language(lambda: _("Deadline policy")),
                       "Type": "select", "Required": "N", "Multiple": "N", "Default": "",
                       "Options": options.get(language, options["en"])},
        },
        "RETURN_PROPERTIES": {
            "task_id": {"Name": _in_each_language(lambda: _("Task id")), "Type": "int",
                        "Required": "N", "Multiple": "N"},
        },
    }


def _language() -> str:
    language = str(current_app.config.get("PORTAL_LANGUAGE") or "ru")
    return language if language in LANGUAGES else "en"


def register_robot(client: PortalClient, handler_url: str, *, auth_user_id: int = 1) -> str:
    """Register the robot on the portal with ``client`` (the application's): ``added``, or
    ``updated`` when the portal has it already."""
    fields = robot_fields(handler_url, auth_user_id=auth_user_id)
    codes = client.call("bizproc.robot.list")
    if isinstance(codes, Mapping):
        codes = list(codes.values())
    if ROBOT_CODE in [str(code) for code in codes or []]:
        client.call("bizproc.robot.update", {"CODE": ROBOT_CODE, "FIELDS": fields})
        return "updated"
    client.call("bizproc.robot.add", {"CODE": ROBOT_CODE, **fields})
    return "added"


def robot_registered(client: PortalClient) -> bool:
    codes = client.call("bizproc.robot.list")
    if isinstance(codes, Mapping):
        codes = list(codes.values())
    return ROBOT_CODE in [str(code) for code in codes or []]


# -- a run ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RobotRun:
    """A robot call as the portal made it, checked."""

    event_token: str
    workflow_id: str | None
    entity: str
    item_id: int
    title: str
    description: str
    responsible: str
    working_hours: int
    policy: str


def parse_call(form: Mapping[str, Any]) -> RobotRun:
    """The robot call's fields (``form`` as PHP nests them), or :class:`BadRobotCall` naming
    the field."""
    from portal_ext.deadlines.rules import MODES

    token = form.get("event_token")
    if not isinstance(token, str) or not token.strip() or len(token) > MAX_TOKEN:
        raise BadRobotCall("event_token", "event_token must be the run's token.")
    document = form.get("document_id")
    if isinstance(document, Mapping):
        document = [document.get(str(i)) for i in range(len(document))]
    if not isinstance(document, list) or len(document) != 3 or document[0] != "crm" \
            or document[1] not in DOCUMENTS or not isinstance(document[2], str):
        raise BadRobotCall("document_id", "document_id must name a lead or a deal, e.g. "
                                          "[crm, CCrmDocumentLead, LEAD_12].")
    entity = DOCUMENTS[document[1]]
    key = _DOCUMENT_KEY.match(document[2])
    if key is None or key.group(1).lower() != entity or not 1 <= int(key.group(2)) < 2**31:
        raise BadRobotCall("document_id", "document_id must end with the item's key, e.g. "
                                          "LEAD_12.")
    properties = form.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise BadRobotCall("properties", "properties must hold the robot's settings.")
    title = properties.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise BadRobotCall("properties[title]", f"The task title is required (at most "
                                                f"{MAX_TITLE} characters).")
    description = properties.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise BadRobotCall("properties[description]", "The description is too long.")
    responsible = str(properties.get("responsible") or "responsible").strip()
    if responsible not in ("responsible", "head") and _user_id(responsible) is None:
        raise BadRobotCall("properties[responsible]", "The responsible must be "
                                                      "'responsible', 'head' or a user id.")
    hours = str(properties.get("working_hours") or "").strip()
    if not hours.isdigit() or not 1 <= int(hours) <= MAX_HOURS:
        raise BadRobotCall("properties[working_hours]", f"The working hours must be a whole "
                                                        f"number from 1 to {MAX_HOURS}.")
    policy = str(properties.get("policy") or "").strip()
    if policy and policy not in MODES:
        raise BadRobotCall("properties[policy]", f"The policy must be one of "
                                                 f"{', '.join(MODES)}, or empty.")
    workflow = form.get("workflow_id")
    return RobotRun(event_token=token.strip(),
                    workflow_id=workflow[:64] if isinstance(workflow, str) else None,
                    entity=entity, item_id=int(key.group(2)), title=title.strip(),
                    description=description,
                    responsible=responsible, working_hours=int(hours), policy=policy)


def run_time(ts: Any, now: datetime) -> datetime:
    """When the run started: the call's ``ts`` (the portal's Unix seconds) when it is a time
    up to ``now`` (the portal's clock, naive UTC) and within a week of it, else ``now``. The
    deadline counts from it, so a call the portal's queue delivered late is not due later."""
    text = str(ts or "")
    if text.isascii() and text.isdigit() and len(text) <= 12:
        started = datetime.fromtimestamp(int(text), UTC).replace(tzinfo=None)
        if now - timedelta(days=7) <= started <= now:
            return started
    return now


def _user_id(value: str) -> int | None:
    text = value.removeprefix("user_")
    return int(text) if text.isdigit() and 1 <= int(text) < 2**31 else None


def run_robot(portal: Portal, run: RobotRun, *, client: PortalClient,
              app_client: PortalClient, now: datetime, received_at: datetime
              ) -> tuple[RobotCall, bool]:
    """Create the run's task once and answer the portal; returns the run's record and whether
    this call created it (False: a replay, answered from the record)."""
    call = RobotCall(portal_id=portal.id, event_token=run.event_token,
                     workflow_id=run.workflow_id, entity=run.entity, item_id=run.item_id,
                     state=RECEIVED, received_at=received_at)
    db.session.add(call)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        found = db.session.scalars(select(RobotCall).where(
            RobotCall.portal_id == portal.id, RobotCall.event_token == run.event_token)).one()
        if found.state == CREATED:  # the answer failed before: try it again
            _answer(found, app_client, received_at)
        return found, False
    try:
        task_id, deadline = create_guarded_task(
            portal, client, entity=run.entity, item_id=run.item_id, title=run.title,
            description=run.description,
            responsible=run.responsible, working_hours=run.working_hours, policy=run.policy,
            now=now)
    except (PortalError, BadRobotCall) as exc:
        call.state, call.error = FAILED, str(exc)[:2000]
        db.session.commit()
        _send(app_client, run.event_token, {"task_id": 0}, _failure_message(str(exc)))
        return call, True
    call.state, call.task_id, call.deadline = CREATED, task_id, deadline
    db.session.commit()
    _answer(call, app_client, received_at)
    return call, True


def _answer(call: RobotCall, app_client: PortalClient, at: datetime) -> None:
    with force_locale(_language()):
        message = _("Task %(id)s created.", id=call.task_id)
    if _send(app_client, call.event_token, {"task_id": call.task_id}, message):
        call.state, call.answered_at = ANSWERED, at
        db.session.commit()


def _failure_message(why: str) -> str:
    with force_locale(_language()):
        return _("No task was created: %(why)s", why=why)


def _send(app_client: PortalClient, token: str, values: dict[str, Any], message: str) -> bool:
    try:
        app_client.call("bizproc.event.send", {"EVENT_TOKEN": token, "RETURN_VALUES": values,
                                               "LOG_MESSAGE": message})
    except PortalError as exc:
        log.warning("bizproc.event.send refused for a robot run: %s", exc)
        return False
    return True


# -- the task ------------------------------------------------------------------------------------
def create_guarded_task(portal: Portal, client: PortalClient, *, entity: str, item_id: int,
                        title: str, description: str, responsible: str, working_hours: int,
                        policy: str, now: datetime) -> tuple[int, datetime | None]:
    """Create the run's task as a stage robot would (``robots.services.create_task_for``): the
    item's placeholders put in, the responsible resolved, due ``working_hours`` of the portal's
    working time after ``now`` (when the item entered the stage), bound to the item, guarded by
    ``policy`` or the robots' policy. Returns the task's id and its deadline."""
    from portal_ext.context import for_portal
    from portal_ext.robots import services
    from portal_ext.robots.errors import RobotError

    ctx = for_portal(portal, client=client, now=now)
    spec = services.TaskSpec(title=title, description=description, responsible=responsible,
                             deadline_hours=working_hours, policy=policy)
    try:
        item = services.read_item(ctx, entity, item_id)
    except RobotError as exc:
        raise BadRobotCall("document_id", str(exc.message)) from None
    try:
        created = services.create_task_for(ctx, spec, item, entered_at=now)
    except RobotError as exc:
        raise BadRobotCall(f"properties[{exc.field}]", str(exc.message)) from None
    return created.task_id, created.planned.deadline

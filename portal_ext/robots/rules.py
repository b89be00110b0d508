"""The stage robots' decisions, pure: which placeholders a template uses and how it renders,
which stage an item entered, whether a robot fires for an entry, who gets the task and whether
a task must be closed because its item left the stage.

A worked example. A robot on leads entering ``IN_PROCESS`` ("qualified lead"), title "Call
back {TITLE} ({PHONE})", responsible ``head``, 2 working hours::

    unknown_placeholders("Call back {TITLE} ({PHONE}) {CITY}")  # -> ["CITY"]: refused
    render("Call back {TITLE} ({PHONE})", {"TITLE": "Kraft LLC", "PHONE": "+7 495 100"})
    # -> "Call back Kraft LLC (+7 495 100)"

Lead 12 goes ``NEW`` -> ``IN_PROCESS``: :func:`entered` answers ``IN_PROCESS`` and the robot
fires (:func:`fires`) if the entry is not older than the robot. ``NEW`` -> ``CONVERTED``
skips ``IN_PROCESS``: the robot fires nothing, as the portal's own robots. Over REST the same
entries come from the stage history: one record per entry, ``{"ID": 901, "STATUS_ID":
"IN_PROCESS", "CREATED_TIME": ...}``; the record id 901 is the entry's identity
(:func:`history_key` -> ``h901``), so a replayed event or the catch-up reading the record
again find the run already made. The lead's responsible is 7, in department 3 whose head is
4: :func:`responsible_for` gives 4 (``head``), 7 (``responsible``) or the named user. When
the lead moves on to ``PROCESSED`` before the task is done, :func:`must_close` says whether
the robot's ``on_leave`` closes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PLACEHOLDERS: tuple[str, ...] = ("TITLE", "COMPANY_TITLE", "CONTACT_NAME", "PHONE",
                                 "ASSIGNED_BY_NAME", "STATUS_NAME", "LINK")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
RESPONSIBLE, HEAD = "responsible", "head"
MAX_HOURS = 24 * 40  # 40 working days of 24 hours at most: a robot's deadline is near
MAX_DAYS = 60
MAX_CHECKLIST = 30


def placeholders(template: str) -> list[str]:
    """The placeholders ``template`` names, in order of first use."""
    found: list[str] = []
    for name in _PLACEHOLDER.findall(template or ""):
        if name not in found:
            found.append(name)
    return found


def unknown_placeholders(template: str) -> list[str]:
    return [name for name in placeholders(template) if name not in PLACEHOLDERS]


def render(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with each known placeholder replaced (a missing value: empty)."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        value = values.get(name)
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(one, template or "")


def entered(before: str | None, after: str | None) -> str | None:
    """The stage an item entered when its stage went from ``before`` to ``after`` (None: the
    stage did not change). An added item (``before`` None) entered its first stage."""
    if not after or before == after:
        return None
    return after


@dataclass(frozen=True)
class RobotFacts:
    """What deciding needs of a robot."""

    id: int
    entity: str
    category_id: int | None
    status_id: str
    enabled: bool
    broken: bool
    active_since: datetime


def fires(robot: RobotFacts, *, entity: str, stage_id: str, category_id: int | None,
          entered_at: datetime) -> bool:
    """Whether ``robot`` fires for an item of ``entity`` entering ``stage_id`` at
    ``entered_at``: the same stage (a deal's in the robot's pipeline), the robot enabled and
    not broken, and the entry not older than the robot (saving a robot never fires it for
    items already in the stage)."""
    if not robot.enabled or robot.broken or robot.entity != entity:
        return False
    if robot.status_id != stage_id:
        return False
    if entity == "deal" and (robot.category_id or 0) != (category_id or 0):
        return False
    return entered_at >= robot.active_since


def history_key(record_id: int) -> str:
    return f"h{record_id}"


def event_key(stage_id: str, entered_at: datetime) -> str:
    return f"{stage_id}@{entered_at:%Y-%m-%dT%H:%M:%S}"


def responsible_for(rule: str, *, item_responsible: int | None, head_ids: Sequence[int],
                    ) -> int | None:
    """Who gets the task: the item's responsible, their nearest head (not themselves), or the
    named user (``rule`` is the id)."""
    if rule == RESPONSIBLE:
        return item_responsible
    if rule == HEAD:
        return next((h for h in head_ids if h != item_responsible), None)
    return int(rule) if str(rule).isdigit() else None


def auditors_for(entries: Iterable[Any], *, head_ids: Sequence[int],
                 responsible_id: int | None) -> list[int]:
    """The task's auditors: named users and, for ``head``, the nearest head; never the
    responsible, each once."""
    found: list[int] = []
    for entry in entries:
        if entry == HEAD:
            chosen = next((h for h in head_ids if h != responsible_id), None)
        else:
            chosen = int(entry) if str(entry).isdigit() else None
        if chosen is not None and chosen != responsible_id and chosen not in found:
            found.append(chosen)
    return found


def must_close(on_leave: str, *, task_done: bool, current_stage: str | None,
               robot_stage: str) -> bool:
    """An open task of a robot whose ``on_leave`` is ``close``, once its item is in another
    stage."""
    return on_leave == "close" and not task_done and current_stage is not None and \
        current_stage != robot_stage

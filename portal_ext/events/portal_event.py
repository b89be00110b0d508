"""One normalized portal event, whichever way it came (in-process, webhook, offline queue)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from portal_ext.request_bounds import MAX_ID

# ONCRMDEALUPDATE -> DEAL, ONTASKCOMMENTADD -> TASK_COMMENT, ONUSERADD -> USER ...
_NAME = re.compile(r"^ON(CRM)?(?P<entity>[A-Z_]+?)(?P<action>ADD|UPDATE|DELETE|SETSTATUS|"
                   r"MOVETOCATEGORY|START|END)$")
_ENTITIES = {"DYNAMICITEM": "DYNAMIC_ITEM", "TASKCOMMENT": "TASK_COMMENT",
             "CALENDARENTRY": "CALENDAR_ENTRY", "IMNOTIFY": "NOTIFICATION"}


_DIGITS = re.compile(r"[0-9]{1,19}")


def positive_id(value: Any) -> int | None:
    """``value`` (an int or its decimal digits) as an id of 1 .. MAX_ID, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            return None
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    return None


@dataclass(frozen=True)
class PortalEvent:
    name: str  # upper case, e.g. ONCRMDEALUPDATE
    source: str  # inprocess | webhook | offline
    data: dict[str, Any] = field(default_factory=dict)  # what the portal's ``data`` carries
    ts: int | None = None
    entity_type: str | None = None
    entity_id: int | None = None
    actor_id: int | None = None
    before: dict[str, Any] | None = None  # in-process events only: the object before
    after: dict[str, Any] | None = None  # ... and after the change
    inbox_id: int | None = None
    portal_id: int | None = None

    def time(self) -> datetime | None:
        """When it happened by the portal's clock (``ts``, Unix seconds) as naive UTC."""
        if self.ts is None:
            return None
        try:
            return datetime.fromtimestamp(int(self.ts), UTC).replace(tzinfo=None)
        except (TypeError, ValueError, OverflowError, OSError):
            return None

    def payload(self) -> dict[str, Any]:
        """What the inbox stores (everything but the row's own columns)."""
        return {"event": self.name, "data": self.data, "ts": self.ts,
                "actor_id": self.actor_id, "before": self.before, "after": self.after}

    @classmethod
    def from_inbox(cls, row: Any) -> PortalEvent:
        payload = row.payload or {}
        return cls(name=row.event_name, source=row.source, data=payload.get("data") or {},
                   ts=payload.get("ts"), entity_type=row.entity_type, entity_id=row.entity_id,
                   actor_id=payload.get("actor_id"), before=payload.get("before"),
                   after=payload.get("after"), inbox_id=row.id, portal_id=row.portal_id)


def entity_type_of(name: str) -> str | None:
    match = _NAME.match(name.upper())
    if not match:
        return None
    entity = match.group("entity")
    return _ENTITIES.get(entity, entity)


def entity_id_of(data: Any) -> int | None:
    """The changed object's id: ``data[FIELDS][ID]``, ``data[FIELDS_AFTER][ID]`` (tasks) or
    ``data[ID]`` (ONUSERADD carries the user's fields directly)."""
    if not isinstance(data, dict):
        return None
    for holder in (data.get("FIELDS"), data.get("FIELDS_AFTER"), data):
        if isinstance(holder, dict):
            value = positive_id(holder.get("ID", holder.get("id")))
            if value is not None:
                return value
    return None


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

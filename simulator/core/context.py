"""The request context: what a method handler works with (one transaction, the calling user,
portal time, the events it publishes). Imports no service: the Simulator behind it plugs the
services in (simulator.portal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from simulator.core.bus import Shapes, SimEvent
from simulator.core.timefmt import parse_portal_datetime, to_portal_iso

if TYPE_CHECKING:
    from simulator.portal import Simulator


@dataclass
class Ctx:
    """What a method handler works with: one transaction, the calling user, portal time."""

    sim: Simulator
    conn: Connection
    user_id: int
    method: str
    now: datetime
    events: list[SimEvent] = field(default_factory=list)
    # The portal's zone as it was when the call began (read before its transaction opened).
    zone: tzinfo | None = None
    # People as this transaction has read them (user rows, departments, the caller's CRM
    # rights): shared by the commands of one ``batch``, dropped whenever a command changes
    # users, departments or rights, or is rolled back (simulator.users.people).
    directory: dict[Any, Any] = field(default_factory=dict)

    @property
    def tz(self) -> tzinfo:
        return self.zone if self.zone is not None else self.sim.tz

    def iso(self, value: datetime | None) -> str:
        return to_portal_iso(value, self.tz)

    def parse_dt(self, value: object, field_name: str = "date") -> datetime | None:
        return parse_portal_datetime(value, self.tz, field=field_name)

    def before(self, name: str, **kwargs: Any) -> None:
        """Publish a *before* event; an in-process Veto stops the change here."""
        if self.sim.bus.has_before:
            self.sim.bus.run_before(self._event(name, **kwargs))

    def emit(self, name: str, **kwargs: Any) -> SimEvent:
        """Queue an *after* event (published when this call commits)."""
        ev = self._event(name, **kwargs)
        self.sim.bus.record_offline(self.conn, ev)
        self.events.append(ev)
        return ev

    def _event(self, name: str, *, data: dict[str, Any] | None = None,
               entity_type: str | None = None, entity_id: int | None = None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
               shapes: Shapes | None = None) -> SimEvent:
        """``shapes``: ``before`` and ``after`` to work out only if someone reads them (an
        in-process subscriber), instead of ``before``/``after``."""
        if data is None:
            data = {"FIELDS": {"ID": str(entity_id)}} if entity_id is not None else {}
        return SimEvent(
            name=name.upper(), data=data, ts=int(self.now.replace(tzinfo=UTC).timestamp()),
            actor_id=self.user_id, entity_type=entity_type, entity_id=entity_id, before=before,
            after=after, shapes=shapes,
        )

    def directory_changed(self) -> None:
        """Users, departments or rights changed: read them again from now on."""
        self.directory.clear()

    def notify(self, user_id: int, message: str, **kwargs: Any) -> int | None:
        """Deliver a notification to ``user_id``'s inbox: the im service's delivery
        (simulator.im.notices), which the Simulator plugs in, so this module imports no
        service."""
        return self.sim.deliver_notice(self, user_id, message, **kwargs)

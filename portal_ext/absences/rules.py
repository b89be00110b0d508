"""Who covers for an absent user: pure decisions, no database, no clock of their own.

The walk, for user X at time t:

1. X's *next* person is the deputy named on X's absence active at t, else X's standing
   deputy.
2. If that person is active (not dismissed) and present at t, they cover for X.
3. If they are away too, their own next person is tried, and so on: a chain. The walk stops
   at a person already seen (a cycle), a dismissed person, a missing deputy, or after
   ``MAX_DEPTH`` steps.
4. When the walk finds nobody, the department heads of X's departments (nearest first, then
   up the tree) are tried, then the portal administrators.
5. Otherwise nobody: the caller records that nothing could be delivered, it never guesses.

Worked example: Ivanova (away, deputy Petrov) -> Petrov (away, deputy Sidorova) -> Sidorova
(present): Sidorova covers, via ``[Ivanova, Petrov, Sidorova]``. Had Sidorova named Ivanova
as her deputy and been away as well, the chain would close on Ivanova; the walk would then
fall back to Ivanova's department head.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

MAX_DEPTH = 10


@dataclass(frozen=True)
class Away:
    """One absence: [start, end) in UTC, with the deputy it names (None: not named)."""

    start: datetime
    end: datetime
    deputy_id: int | None = None

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass
class Roster:
    """A snapshot of what the decision needs. Build it once, ask many times."""

    active: set[int]  # users who are not dismissed
    absences: Mapping[int, Iterable[Away]] = field(default_factory=dict)
    standing_deputies: Mapping[int, int] = field(default_factory=dict)
    departments_of: Mapping[int, list[int]] = field(default_factory=dict)
    department_head: Mapping[int, int | None] = field(default_factory=dict)
    department_parent: Mapping[int, int | None] = field(default_factory=dict)
    admins: list[int] = field(default_factory=list)

    def absence_at(self, user_id: int, at: datetime) -> Away | None:
        for away in self.absences.get(user_id, ()):
            if away.covers(at):
                return away
        return None

    def is_present(self, user_id: int, at: datetime) -> bool:
        return user_id in self.active and self.absence_at(user_id, at) is None

    def next_person(self, user_id: int, at: datetime) -> int | None:
        away = self.absence_at(user_id, at)
        if away is not None and away.deputy_id is not None:
            return away.deputy_id
        return self.standing_deputies.get(user_id)

    def heads_above(self, user_id: int) -> list[int]:
        """Heads of the user's departments, nearest first, then up the tree."""
        heads: list[int] = []
        for department in self.departments_of.get(user_id, []):
            seen: set[int] = set()
            current: int | None = department
            while current is not None and current not in seen:
                seen.add(current)
                head = self.department_head.get(current)
                if head is not None and head not in heads:
                    heads.append(head)
                current = self.department_parent.get(current)
        return heads


@dataclass(frozen=True)
class Cover:
    """The answer: who covers (None: nobody), how they were reached, and why."""

    user_id: int | None
    path: tuple[int, ...]  # from the absent user to the one who covers
    reason: str  # "deputy", "chain", "head", "admin", "nobody"


def resolve_cover(roster: Roster, user_id: int, at: datetime) -> Cover:
    """Who receives what is meant for ``user_id`` at ``at`` while they are away."""
    path = [user_id]
    seen = {user_id}
    current = user_id
    for _ in range(MAX_DEPTH):
        candidate = roster.next_person(current, at)
        if candidate is None or candidate in seen or candidate not in roster.active:
            break
        path.append(candidate)
        seen.add(candidate)
        if roster.is_present(candidate, at):
            return Cover(candidate, tuple(path), "deputy" if len(path) == 2 else "chain")
        current = candidate
    for head in roster.heads_above(user_id):
        if head != user_id and roster.is_present(head, at):
            return Cover(head, (user_id, head), "head")
    for admin in roster.admins:
        if admin != user_id and roster.is_present(admin, at):
            return Cover(admin, (user_id, admin), "admin")
    return Cover(None, (user_id,), "nobody")

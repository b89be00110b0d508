"""Who gets a copy of a notification, and why: pure decisions, no database, no clock.

A notification the portal addressed to its *owner* (the user it was meant for) is copied to:

1. the owner's cover while the owner is away (the named deputy, else the chain of deputies,
   the department head, an administrator: see portal_ext.absences.rules), reason ``deputy``;
2. every other member of each team the owner belongs to, when the team shares this kind of
   notification (portal_ext.notifications.kinds), reason ``team``; a member who is away is
   replaced by the member's own cover.

Then, in this order:

- nobody receives a copy of their own notification (the owner has the original);
- the person whose action caused the notification (the *actor*) receives no copy;
- a dismissed user receives nothing (``active`` holds who is not dismissed);
- each recipient receives one copy, carrying every reason that led to them.

Worked examples (user ids; Ivanova=2 is away until 14 Dec, her deputy is Petrov=3):

- A lead is assigned to Ivanova by the administrator (1). Ivanova is in no team.
  -> ``[Recipient(3, reasons=(deputy for 2,))]``: one copy to Petrov.
- The same lead, but Petrov assigned it himself (actor 3).
  -> ``[]``: Petrov caused it, so he gets no copy, and nobody else is involved.
- Ivanova, Petrov and Sidorova (4) form team "Equipment sales" sharing ``new_lead``.
  A lead is assigned to Ivanova by the administrator.
  -> ``[Recipient(3, reasons=(deputy for 2, team "Equipment sales")),
  Recipient(4, reasons=(team "Equipment sales",))]``: Petrov once, with both reasons.
- Sidorova (4) is assigned a lead; Ivanova is away, so her team copy goes to her cover
  Petrov, who is in the team himself: one copy to Petrov, reason "team" (standing in adds
  nothing); Ivanova receives nothing while away. Had Petrov not been in the team, his copy
  would say he stands in for Ivanova.
- Kozlov (5) in the team was dismissed: he is skipped, not replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import datetime

from portal_ext.absences.rules import Cover

DEPUTY, TEAM = "deputy", "team"
REASONS: tuple[str, ...] = (DEPUTY, TEAM, f"{DEPUTY}+{TEAM}")


@dataclass(frozen=True)
class Absent:
    """An away user: until when (exclusive, naive UTC) and who covers for them."""

    until: datetime
    cover: Cover


@dataclass(frozen=True)
class TeamView:
    """A team as the decision needs it (built once per batch from the database)."""

    id: int
    name: str
    kinds: frozenset[str]
    members: frozenset[int]


@dataclass(frozen=True)
class Reason:
    """Why one copy goes to one recipient.

    ``kind`` is ``deputy`` (covering for the absent ``owner_id``) or ``team``. For a deputy
    copy ``cover`` says how the cover was found (deputy, chain, head, admin) and ``path`` the
    deputies walked; for a team copy that stands in for an absent member, ``stands_in_for``
    names that member.
    """

    kind: str
    owner_id: int
    until: datetime | None = None
    cover: str | None = None
    path: tuple[int, ...] = ()
    team_id: int | None = None
    team_name: str | None = None
    stands_in_for: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "owner_id": self.owner_id,
                "until": self.until.isoformat() if self.until else None, "cover": self.cover,
                "path": list(self.path), "team_id": self.team_id, "team_name": self.team_name,
                "stands_in_for": self.stands_in_for}


@dataclass(frozen=True)
class Recipient:
    user_id: int
    reasons: tuple[Reason, ...]

    @property
    def reason(self) -> str:
        """``deputy``, ``team`` or ``deputy+team`` (the delivery log's reason column)."""
        kinds = {r.kind for r in self.reasons}
        if kinds == {DEPUTY, TEAM}:
            return f"{DEPUTY}+{TEAM}"
        return DEPUTY if DEPUTY in kinds else TEAM


def recipients(*, owner_id: int, actor_id: int | None, kind: str,
               away: Callable[[int], Absent | None], teams: Iterable[TeamView],
               active: Container[int]) -> list[Recipient]:
    """Who receives a copy of a notification of ``kind`` meant for ``owner_id``.

    ``away(user_id)`` answers whether a user is away (and who covers); ``teams`` are the teams
    the owner belongs to (others are ignored). Recipients come back in the order they were
    first found: the deputy first, then team members by team name and user id.
    """
    found: dict[int, list[Reason]] = {}

    def add(user_id: int | None, reason: Reason) -> None:
        if user_id is None or user_id in (owner_id, actor_id) or user_id not in active:
            return
        reasons = found.setdefault(user_id, [])
        if reason not in reasons:
            reasons.append(reason)

    absent = away(owner_id)
    if absent is not None and absent.cover.user_id is not None:
        add(absent.cover.user_id, Reason(DEPUTY, owner_id, until=absent.until,
                                         cover=absent.cover.reason,
                                         path=absent.cover.path))
    for team in sorted(teams, key=lambda t: (t.name.lower(), t.id)):
        if owner_id not in team.members or kind not in team.kinds:
            continue
        for member in sorted(team.members):
            if member == owner_id or member not in active:
                continue
            reason = Reason(TEAM, owner_id, team_id=team.id, team_name=team.name)
            member_away = away(member)
            if member_away is None:
                add(member, reason)
            else:
                add(member_away.cover.user_id,
                    Reason(TEAM, owner_id, team_id=team.id, team_name=team.name,
                           stands_in_for=member))
    return [Recipient(user_id, _folded(reasons)) for user_id, reasons in found.items()]


def _folded(reasons: list[Reason]) -> tuple[Reason, ...]:
    """A member standing in for an absent colleague of a team they are in themselves gets
    the team's copy for themselves: the stand-in reason adds nothing."""
    own_teams = {r.team_id for r in reasons if r.kind == TEAM and r.stands_in_for is None}
    return tuple(r for r in reasons
                 if not (r.stands_in_for is not None and r.team_id in own_teams))

"""Who inherits a dismissed employee's items: pure successor strategies.

No database, no portal, no clock: the caller gives the candidates (with whether they are
active and present), their current load and a seeded ``rng``; the answer is a
:class:`Decision` saying who got what and why.

Four strategies (``STRATEGIES``):

- ``person``: every item to one named successor;
- ``head``: every item to the head of the dismissed user's department (the caller finds the
  nearest head who is active and not the user: :func:`nearest_head`);
- ``spread``: over chosen people or a department, **by current load**, evenly within one item
  per person (below);
- ``per_type``: a successor per entity type (deals to one person, leads to another...).

Spreading by load
-----------------
A candidate's load is the number of open CRM items they are responsible for (open leads, deals
and quotes, plus contacts and companies, which never close). The dismissed user's items are
dealt one at a time, in the order the transfer lists them, each to the candidate whose load is
*lowest right now* (water filling); the item then counts in that candidate's load. Ties go to
the candidate ranked first in an order shuffled once by ``rng`` (so a seeded run is
reproducible, and over many transfers no one is always first).

Activities and tasks *follow their client*: an activity whose deal (or lead, contact...) moves
in the same transfer goes to that deal's successor, and a task bound to a moving CRM item
likewise, so one person holds the deal and the call planned about it. They count one unit of
load too. An activity or task whose item does not move is dealt like any other item.

Worked example: Ivanova is dismissed with 6 items. Candidates: Petrov (load 5), Sidorova
(load 2), Kozlov (load 3); ``rng`` ranks them Kozlov, Sidorova, Petrov for ties.

====  ========================  ======================
item  loads before (P, S, K)    goes to (why)
====  ========================  ======================
1     5, 2, 3                   Sidorova (lowest, 2)
2     5, 3, 3                   Kozlov (tie at 3, ranked first)
3     5, 3, 4                   Sidorova (lowest, 3)
4     5, 4, 4                   Kozlov (tie at 4, ranked first)
5     5, 4, 5                   Sidorova (lowest, 4)
6     5, 5, 5                   Kozlov (three-way tie, ranked first)
====  ========================  ======================

Loads after: Petrov 5, Sidorova 5, Kozlov 6. Sixteen units over three people can be at best
5, 5, 6, so this is the most even split; Sidorova received 3, Kozlov 3, Petrov none. Had
Petrov carried 100 items, he would still get none and the other two 3 each: a load cannot be
taken away, only not added to ("evenly within one item per person, where possible").

Invariant (tests/ext/test_strategies.py checks it with hypothesis): when no activity or task
follows its client, everyone who received an item ends with a load at most one above the
lowest load of all candidates, and every item is assigned exactly once.

Who may inherit: active users other than the dismissed one. Spread strategies also skip
candidates who are away now (an absence covering today); a named successor or head who is away
is still allowed (the admin chose them; their deputy covers their notifications).
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portal_ext.transfers.errors import NoSuccessor

PERSON, HEAD, SPREAD, PER_TYPE = "person", "head", "spread", "per_type"
STRATEGIES: tuple[str, ...] = (PERSON, HEAD, SPREAD, PER_TYPE)
ENTITY_TYPES: tuple[str, ...] = ("lead", "deal", "contact", "company", "quote",
                                 "smart_invoice", "activity", "task")
CRM_TYPES: tuple[str, ...] = ENTITY_TYPES[:6]
FOLLOWERS = ("activity", "task")  # follow the CRM item they are about

# Why a candidate was not used (Decision.skipped).
DISMISSED, IS_THE_USER, ABSENT = "dismissed", "the dismissed user", "absent"


@dataclass(frozen=True)
class Candidate:
    """A possible successor: a portal user id, and what the caller knows about them now."""

    user_id: int
    active: bool = True
    absent: bool = False


@dataclass
class Share:
    """One successor's part of a transfer."""

    user_id: int
    load_before: int = 0
    received: Counter[str] = field(default_factory=Counter)  # entity type -> items

    @property
    def total(self) -> int:
        return sum(self.received.values())

    @property
    def load_after(self) -> int:
        return self.load_before + self.total


@dataclass
class Decision:
    """The outcome: who got which item (``assignments``) and why (``reasons``), each
    successor's share, and the candidates left out with the reason."""

    strategy: str
    assignments: dict[tuple[str, int], int] = field(default_factory=dict)
    reasons: dict[tuple[str, int], str] = field(default_factory=dict)
    shares: dict[int, Share] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """What a transfer keeps of its decision (without the per-item list, which is the
        engine's move items)."""
        return {"strategy": self.strategy,
                "successors": [{"user_id": s.user_id, "load_before": s.load_before,
                                "load_after": s.load_after, "total": s.total,
                                "received": dict(sorted(s.received.items()))}
                               for s in sorted(self.shares.values(), key=lambda s: s.user_id)],
                "skipped": [{"user_id": uid, "reason": why}
                            for uid, why in sorted(self.skipped.items())]}


def eligible(candidates: Iterable[Candidate], *, dismissed_id: int, skip_absent: bool
             ) -> tuple[list[int], dict[int, str]]:
    """The usable candidates (first-seen order, no repeats) and the others with why."""
    usable: list[int] = []
    skipped: dict[int, str] = {}
    for c in candidates:
        if c.user_id in usable or c.user_id in skipped:
            continue
        if c.user_id == dismissed_id:
            skipped[c.user_id] = IS_THE_USER
        elif not c.active:
            skipped[c.user_id] = DISMISSED
        elif skip_absent and c.absent:
            skipped[c.user_id] = ABSENT
        else:
            usable.append(c.user_id)
    return usable, skipped


class SuccessorPlan:
    """Deals items one at a time (``pick``), as the move engine lists them, and keeps the
    :class:`Decision`. Build one with :func:`named`, :func:`per_type` or :func:`spread`."""

    def __init__(self, strategy: str, *, loads: Mapping[int, int] | None = None,
                 skipped: Mapping[int, str] | None = None) -> None:
        self.decision = Decision(strategy, skipped=dict(skipped or {}))
        self._loads = dict(loads or {})

    def pick(self, entity_type: str, entity_id: int,
             about: tuple[str, int] | None = None) -> int:
        """The successor of one item; ``about`` is the CRM item an activity or task is
        bound to (its type and id), if any."""
        key = (entity_type, int(entity_id))
        if key in self.decision.assignments:  # listed twice (paging overlap): same answer
            return self.decision.assignments[key]
        user_id, reason = self._choose(entity_type, about)
        self.decision.assignments[key] = user_id
        self.decision.reasons[key] = reason
        share = self.decision.shares.get(user_id)
        if share is None:
            share = self.decision.shares[user_id] = Share(user_id, self._loads.get(user_id, 0))
        share.received[entity_type] += 1
        return user_id

    def _choose(self, entity_type: str, about: tuple[str, int] | None) -> tuple[int, str]:
        raise NotImplementedError


class _Named(SuccessorPlan):
    def __init__(self, strategy: str, by_type: Mapping[str, int], reason: str,
                 skipped: Mapping[int, str]) -> None:
        super().__init__(strategy, skipped=skipped)
        self._by_type = dict(by_type)
        self._reason = reason

    def _choose(self, entity_type: str, about: tuple[str, int] | None) -> tuple[int, str]:
        user_id = self._by_type.get(entity_type, self._by_type.get("*"))
        if user_id is None:
            raise NoSuccessor(f"no successor for {entity_type}")
        return user_id, self._reason


def named(successor: Candidate, *, dismissed_id: int, strategy: str = PERSON) -> SuccessorPlan:
    """Everything to one person (``person``; ``head`` with the head found by the caller)."""
    usable, skipped = eligible([successor], dismissed_id=dismissed_id, skip_absent=False)
    if not usable:
        raise NoSuccessor(skipped.get(successor.user_id, DISMISSED))
    return _Named(strategy, {"*": usable[0]}, "head" if strategy == HEAD else "named", {})


def per_type(successors: Mapping[str, Candidate], *, dismissed_id: int) -> SuccessorPlan:
    """A successor per entity type; every type given must have a usable one."""
    by_type: dict[str, int] = {}
    for entity_type, candidate in successors.items():
        if entity_type not in ENTITY_TYPES:
            raise ValueError(f"not an entity type: {entity_type}")
        usable, skipped = eligible([candidate], dismissed_id=dismissed_id, skip_absent=False)
        if not usable:
            raise NoSuccessor(f"{entity_type}: {skipped[candidate.user_id]}")
        by_type[entity_type] = usable[0]
    return _Named(PER_TYPE, by_type, "per_type", {})


class _Spread(SuccessorPlan):
    def __init__(self, usable: Sequence[int], loads: Mapping[int, int],
                 skipped: Mapping[int, str], rng: random.Random) -> None:
        base = {uid: max(0, int(loads.get(uid, 0))) for uid in usable}
        super().__init__(SPREAD, loads=base, skipped=skipped)
        # Everyone considered has a share, receiving nothing or not: the preview shows why.
        self.decision.shares = {uid: Share(uid, base[uid]) for uid in usable}
        ranked = list(usable)
        rng.shuffle(ranked)  # once: the tie-break order
        self._heap = [(base[uid], rank, uid) for rank, uid in enumerate(ranked)]
        heapq.heapify(self._heap)
        self._moving: dict[tuple[str, int], int] = {}

    def pick(self, entity_type: str, entity_id: int,
             about: tuple[str, int] | None = None) -> int:
        user_id = super().pick(entity_type, entity_id, about)
        if entity_type not in FOLLOWERS:
            self._moving[(entity_type, int(entity_id))] = user_id
        return user_id

    def _choose(self, entity_type: str, about: tuple[str, int] | None) -> tuple[int, str]:
        if entity_type in FOLLOWERS and about is not None:
            owner = self._moving.get((about[0], int(about[1])))
            if owner is not None:
                self._bump(owner)
                return owner, f"follows {about[0]} {about[1]}"
        load, rank, user_id = heapq.heappop(self._heap)
        heapq.heappush(self._heap, (load + 1, rank, user_id))
        return user_id, "least_loaded"

    def _bump(self, user_id: int) -> None:
        for index, (load, rank, uid) in enumerate(self._heap):
            if uid == user_id:
                self._heap[index] = (load + 1, rank, uid)
                heapq.heapify(self._heap)
                return


def spread(candidates: Iterable[Candidate], loads: Mapping[int, int], *, dismissed_id: int,
           rng: random.Random) -> SuccessorPlan:
    """By current load, least loaded first (see the module's docstring)."""
    usable, skipped = eligible(candidates, dismissed_id=dismissed_id, skip_absent=True)
    if not usable:
        raise NoSuccessor("nobody among the candidates can take the items")
    return _Spread(usable, loads, skipped, rng)


def assign(plan: SuccessorPlan, items: Iterable[tuple[str, int]],
           about: Mapping[tuple[str, int], tuple[str, int]] | None = None) -> Decision:
    """Deal every item of ``items`` (in order) and return the decision."""
    links = about or {}
    for entity_type, entity_id in items:
        plan.pick(entity_type, entity_id, links.get((entity_type, entity_id)))
    return plan.decision


def nearest_head(user_departments: Sequence[int], heads: Mapping[int, int | None],
                 parents: Mapping[int, int | None], *, active: set[int],
                 dismissed_id: int) -> int | None:
    """The head of the user's first department who is active and not the user, walking up the
    tree when the department is headed by the user themselves (a head being dismissed)."""
    for department in user_departments:
        seen: set[int] = set()
        current: int | None = department
        while current is not None and current not in seen:
            seen.add(current)
            head = heads.get(current)
            if head is not None and head != dismissed_id and head in active:
                return head
            current = parents.get(current)
    return None


def department_members(department_id: int, members_of: Mapping[int, Iterable[int]],
                       parents: Mapping[int, int | None]) -> list[int]:
    """Everyone in a department and its sub-departments (the sales department includes its
    business lines), in department order then user order, without repeats."""
    children: dict[int, list[int]] = defaultdict(list)
    for child, parent in parents.items():
        if parent is not None:
            children[parent].append(child)
    found: list[int] = []
    queue, seen = [department_id], set()
    while queue:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        for user_id in sorted(members_of.get(current, ())):
            if user_id not in found:
                found.append(user_id)
        queue.extend(sorted(children.get(current, ())))
    return found


def adjusted(items: Sequence[tuple[str, int, int]], wanted: Mapping[int, Mapping[str, int]]
             ) -> dict[tuple[str, int], int]:
    """The items that change successor when the administrator adjusts a previewed split.

    ``items`` are the preview's ``(entity type, id, successor)`` in the order they were dealt;
    ``wanted`` says how many items of each type each successor should get (per type, the
    numbers add up to the items of that type: the caller checks). Nothing is dealt anew: each
    successor keeps the items they were dealt first, up to their new number; the items beyond
    it (the last dealt) go, in order, to the successors still short of theirs, in the order
    ``wanted`` names them. Answer: ``(type, id) -> new successor`` for the items that move.

    Worked example: deals 1-4 went to Sidorova (1, 3) and Kozlov (2, 4); the admin wants
    Sidorova 1, Kozlov 1, Petrov 2: Sidorova keeps deal 1, Kozlov deal 2, and deals 3 and 4
    go to Petrov.
    """
    kept: Counter[tuple[int, str]] = Counter()
    surplus: dict[str, list[int]] = defaultdict(list)
    for entity_type, entity_id, user_id in items:
        if kept[(user_id, entity_type)] < int(wanted.get(user_id, {}).get(entity_type, 0)):
            kept[(user_id, entity_type)] += 1
        else:
            surplus[entity_type].append(int(entity_id))
    changes: dict[tuple[str, int], int] = {}
    for entity_type, ids in surplus.items():
        queue = list(ids)
        for user_id, counts in wanted.items():
            short = int(counts.get(entity_type, 0)) - kept[(user_id, entity_type)]
            while short > 0 and queue:
                changes[(entity_type, queue.pop(0))] = user_id
                short -= 1
    return changes

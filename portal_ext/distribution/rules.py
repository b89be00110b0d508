"""Who gets a visited client's deal: one manager per department, then one main manager.

Pure: no database, no portal, no clock of its own. The caller passes the people it read (with
their open deals in the line's pipeline, their picks today and when they were last picked),
``rng`` (a ``random.Random``, seeded by the caller, who records the seed) and ``now``.

Strategies for a department (:data:`STRATEGIES`):

- ``random``: any available person, uniformly (the seed's business process did this);
- ``round_robin``: the next available person by user id after the one picked last time;
- ``least_loaded``: the fewest open deals in the pipeline; ties go to whoever waited longest
  (never picked first, then the earliest last pick), then the lower user id.

Whatever the strategy, a person is *available* when active (not dismissed), not away at
``now`` and, with a daily ``quota``, picked fewer than ``quota`` times today. When nobody in
the department is available, the department's head takes the deal if available (the quota does
not bind them), else the configured fallback person; otherwise nobody (``chosen_id`` None: the
caller refuses). Every :class:`Decision` keeps each candidate with their load, their quota use
and why they were skipped, so the outcome page can say it in words.

Worked example (``least_loaded``, quota 2, ``now`` = 10:00 on a Monday)::

    person  active  away until      open deals  picked today  last picked
    11      yes     -               3           0             Fri 15:00
    12      yes     Mon 14 Dec      1           0             -
    13      no      -               0           0             -
    14      yes     -               3           1             Thu 09:00
    15      yes     -               2           2             Mon 09:30

    12 is skipped (away until 14 Dec), 13 (dismissed), 15 (quota 2 of 2 reached).
    11 and 14 remain, both with 3 open deals: 14 waited longer (last picked Thursday,
    11 on Friday), so the decision is 14: "least loaded, 3 open deals".

Main manager (:func:`pick_main`) among the managers picked for the report's lines:
``random``; ``least_loaded`` (open deals before this report, ties to the earlier line);
``priority`` (the manager of the line with the lowest priority number, then the earlier line).
With the example above and a second line whose pick has 1 open deal, ``least_loaded`` makes
that second manager the main one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

RANDOM, ROUND_ROBIN, LEAST_LOADED, PRIORITY = "random", "round_robin", "least_loaded", "priority"
STRATEGIES: tuple[str, ...] = (RANDOM, ROUND_ROBIN, LEAST_LOADED)
MAIN_STRATEGIES: tuple[str, ...] = (RANDOM, LEAST_LOADED, PRIORITY)

# Why a candidate was left out (Considered.skipped).
ABSENT, DISMISSED, QUOTA = "absent", "dismissed", "quota"
# Who took the deal when the department had nobody (Decision.fallback).
BY_HEAD, BY_FALLBACK = "head", "fallback"


@dataclass(frozen=True)
class Person:
    """A member of a department as the caller read them."""

    user_id: int
    active: bool = True
    absent_until: datetime | None = None  # away until then (None: not away)
    load: int = 0  # open deals in the line's pipeline
    picked_today: int = 0
    last_picked_at: datetime | None = None

    def away(self, now: datetime) -> bool:
        return self.absent_until is not None and self.absent_until > now


@dataclass(frozen=True)
class Considered:
    user_id: int
    load: int
    picked_today: int
    skipped: str | None = None  # absent | dismissed | quota | None (eligible)
    absent_until: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {"user_id": self.user_id, "load": self.load, "picked_today": self.picked_today,
                "skipped": self.skipped,
                "absent_until": self.absent_until.isoformat() if self.absent_until else None}


@dataclass(frozen=True)
class Decision:
    department_id: int
    strategy: str
    candidates: tuple[Considered, ...]
    chosen_id: int | None
    quota: int | None = None
    seed: int | None = None
    fallback: str | None = None  # head | fallback when nobody in the department was free
    skipped_fallbacks: tuple[Considered, ...] = field(default_factory=tuple)

    def chosen(self) -> Considered | None:
        for c in (*self.candidates, *self.skipped_fallbacks):
            if c.user_id == self.chosen_id and c.skipped is None:
                return c
        return None

    def as_dict(self) -> dict[str, object]:
        return {"department_id": self.department_id, "strategy": self.strategy,
                "quota": self.quota, "seed": self.seed, "fallback": self.fallback,
                "candidates": [c.as_dict() for c in self.candidates],
                "fallbacks": [c.as_dict() for c in self.skipped_fallbacks],
                "chosen_id": self.chosen_id}


def consider(person: Person, now: datetime, quota: int | None = None) -> Considered:
    """The person as a candidate: eligible, or the reason they are skipped (dismissal first,
    then absence, then the quota)."""
    skipped = None
    if not person.active:
        skipped = DISMISSED
    elif person.away(now):
        skipped = ABSENT
    elif quota is not None and person.picked_today >= quota:
        skipped = QUOTA
    return Considered(person.user_id, person.load, person.picked_today, skipped,
                      person.absent_until if skipped == ABSENT else None)


def _waited(person: Person) -> tuple[int, datetime]:
    """Sort key: never picked first, then the earliest last pick."""
    if person.last_picked_at is None:
        return (0, datetime.min)
    return (1, person.last_picked_at)


def pick(department_id: int, people: Sequence[Person], *, strategy: str, now: datetime,
         rng: random.Random, quota: int | None = None, last_chosen_id: int | None = None,
         head: Person | None = None, fallback: Person | None = None,
         seed: int | None = None) -> Decision:
    """One manager of the department (see the module's docstring)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    ordered = sorted({p.user_id: p for p in people}.values(), key=lambda p: p.user_id)
    considered = tuple(consider(p, now, quota) for p in ordered)
    free = [p for p, c in zip(ordered, considered, strict=True) if c.skipped is None]
    chosen: int | None = None
    if free:
        if strategy == RANDOM:
            chosen = free[rng.randrange(len(free))].user_id
        elif strategy == ROUND_ROBIN:
            after = [p for p in free if last_chosen_id is not None and p.user_id > last_chosen_id]
            chosen = (after or free)[0].user_id
        else:
            chosen = min(free, key=lambda p: (p.load, _waited(p), p.user_id)).user_id
        return Decision(department_id, strategy, considered, chosen, quota, seed)
    tried: list[Considered] = []
    for kind, person in ((BY_HEAD, head), (BY_FALLBACK, fallback)):
        if person is None:
            continue
        seen = consider(person, now)  # no quota for the last resort
        tried.append(seen)
        if seen.skipped is None:
            return Decision(department_id, strategy, considered, person.user_id, quota, seed,
                            kind, tuple(tried))
    return Decision(department_id, strategy, considered, None, quota, seed, None, tuple(tried))


@dataclass(frozen=True)
class MainDecision:
    strategy: str
    candidates: tuple[tuple[int, int, int], ...]  # (user id, load, line priority)
    chosen_id: int
    seed: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"strategy": self.strategy, "seed": self.seed, "chosen_id": self.chosen_id,
                "candidates": [{"user_id": u, "load": load, "priority": prio}
                               for u, load, prio in self.candidates]}


def pick_main(managers: Sequence[tuple[int, int, int]], *, strategy: str,
              rng: random.Random, seed: int | None = None) -> MainDecision:
    """The main manager among ``managers`` (user id, open deals, line priority), in the
    report's line order; a manager picked for two lines counts once."""
    if strategy not in MAIN_STRATEGIES:
        raise ValueError(f"unknown main-manager strategy {strategy!r}")
    unique: dict[int, tuple[int, int, int]] = {}
    for entry in managers:
        unique.setdefault(entry[0], entry)
    listed = list(unique.values())
    if not listed:
        raise ValueError("no managers to choose from")
    if strategy == RANDOM:
        chosen = listed[rng.randrange(len(listed))][0]
    elif strategy == LEAST_LOADED:
        chosen = min(enumerate(listed), key=lambda e: (e[1][1], e[0]))[1][0]
    else:
        chosen = min(enumerate(listed), key=lambda e: (e[1][2], e[0]))[1][0]
    return MainDecision(strategy, tuple(listed), chosen, seed)

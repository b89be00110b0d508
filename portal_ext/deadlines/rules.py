"""The deadline guard's decisions, pure: which policy binds a task, whether a change is a
postponement, and what a postponement needs.

A worked example. The portal's default is ``reason_required`` with at most 2 postponements;
the Sales department (5) overrides it with ``approval_required``, and its sub-department
Lift (7, parent 5) has no override of its own. Ivanova is in Lift and in Support (9, no
override)::

    default = Policy("reason_required", max_postponements=2)
    overrides = {5: Policy("approval_required")}
    parents = {7: 5, 9: None, 5: None}
    effective_policy(default, overrides, [7, 9], parents)
    # Lift inherits Sales' override (the most specific one up the tree), Support has the
    # default; the strictest of the two wins: Policy("approval_required", 2, None, True)

Ivanova, the task's responsible, moves its deadline from the 12th to the 15th: that is a
postponement (:func:`is_postponement`), and she is bound (:func:`is_bound`), not exempt
(:func:`is_exempt`), so :func:`requirement` answers ``APPROVAL``: she must request the change
and her approver decides. Under the default alone it would be ``REASON``, until her third
postponement of the task, which is beyond the limit of 2 and needs ``APPROVAL`` too. Moving
the deadline earlier, or setting one where there was none, is ``FREE`` whatever the policy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

FREE_MODE, REASON_MODE, APPROVAL_MODE, LOCKED_MODE = (
    "free", "reason_required", "approval_required", "locked")
MODES: tuple[str, ...] = (FREE_MODE, REASON_MODE, APPROVAL_MODE, LOCKED_MODE)  # by strictness

# What a change needs (requirement()).
FREE, REASON, APPROVAL, LOCKED = "free", "reason", "approval", "locked"


@dataclass(frozen=True)
class Policy:
    mode: str = FREE_MODE
    max_postponements: int | None = None  # at most N postponements per task
    max_delay_days: int | None = None  # at most D days of delay past the original deadline
    exempt_heads: bool = True  # the responsible's heads may move it freely


def strictest(policies: Iterable[Policy]) -> Policy:
    """The policy at least as strict as each of ``policies``: the strictest mode, the lowest
    of each limit, heads exempt only if every policy exempts them. Nothing given: free."""
    chosen = list(policies)
    if not chosen:
        return Policy()

    def lowest(values: Iterable[int | None]) -> int | None:
        present = [v for v in values if v is not None]
        return min(present) if present else None

    return Policy(mode=max((p.mode for p in chosen), key=MODES.index),
                  max_postponements=lowest(p.max_postponements for p in chosen),
                  max_delay_days=lowest(p.max_delay_days for p in chosen),
                  exempt_heads=all(p.exempt_heads for p in chosen))


def department_policy(default: Policy, overrides: Mapping[int, Policy], department: int,
                      parents: Mapping[int, int | None]) -> Policy:
    """The policy of one department: its own override, else the nearest ancestor's, else the
    default."""
    seen: set[int] = set()
    current: int | None = department
    while current is not None and current not in seen:
        if current in overrides:
            return overrides[current]
        seen.add(current)
        current = parents.get(current)
    return default


def effective_policy(default: Policy, overrides: Mapping[int, Policy],
                     departments: Iterable[int], parents: Mapping[int, int | None]) -> Policy:
    """The policy binding a task whose responsible is in ``departments``: the strictest of
    their departments' policies (the default for someone in none)."""
    found = [department_policy(default, overrides, d, parents) for d in departments]
    return strictest(found) if found else default


def is_postponement(old: datetime | None, new: datetime | None) -> bool:
    """A later deadline, or a deadline removed. Earlier, or set where there was none: no."""
    if old is None:
        return False
    return new is None or new > old


def delay_days(original: datetime | None, new: datetime | None) -> float:
    """Days of delay of ``new`` past ``original`` (0 if not later; infinite when removed)."""
    if original is None:
        return 0.0
    if new is None:
        return math.inf
    return max(0.0, (new - original).total_seconds() / 86400)


def beyond_limits(policy: Policy, *, postponements_before: int, original: datetime | None,
                  new: datetime | None) -> bool:
    """Whether one more postponement to ``new`` passes a limit of ``policy``."""
    if policy.max_postponements is not None and postponements_before + 1 > policy.max_postponements:
        return True
    return policy.max_delay_days is not None and \
        delay_days(original, new) > policy.max_delay_days


def is_bound(user_id: int, *, responsible_id: int, accomplice_ids: Iterable[int]) -> bool:
    """The responsible and the accomplices are bound by the policy."""
    return user_id == responsible_id or user_id in set(accomplice_ids)


def is_exempt(user_id: int, *, is_admin: bool, creator_id: int, responsible_id: int,
              head_ids: Iterable[int], policy: Policy) -> bool:
    """The portal's administrator, the creator of a task set for someone else, and (when the
    policy says so) the responsible's heads up the tree move deadlines freely. A task one set
    for oneself binds one all the same."""
    if is_admin:
        return True
    if user_id == creator_id and creator_id != responsible_id:
        return True
    return policy.exempt_heads and user_id in set(head_ids) and user_id != responsible_id


def requirement(policy: Policy, *, old: datetime | None, new: datetime | None,
                postponements_before: int, original: datetime | None, exempt: bool) -> str:
    """What a change of the deadline from ``old`` to ``new`` needs: ``FREE`` (not a
    postponement, or the person is exempt, or the policy is free within its limits),
    ``REASON``, ``APPROVAL`` (the policy, or beyond a limit) or ``LOCKED``."""
    if exempt or not is_postponement(old, new):
        return FREE
    if policy.mode == LOCKED_MODE:
        return LOCKED
    if policy.mode == APPROVAL_MODE or beyond_limits(
            policy, postponements_before=postponements_before, original=original, new=new):
        return APPROVAL
    return REASON if policy.mode == REASON_MODE else FREE


def approvers(*, creator_id: int, responsible_id: int, requester_id: int,
              head_ids: Iterable[int]) -> list[int]:
    """Who decides a request: the task's creator, else the responsible's nearest head (never
    the requester)."""
    if creator_id not in (responsible_id, requester_id):
        return [creator_id]
    for head in head_ids:
        if head not in (requester_id, responsible_id):
            return [head]
    return []


def heads_above(departments: Iterable[int], parents: Mapping[int, int | None],
                heads: Mapping[int, int | None]) -> list[int]:
    """The heads of ``departments`` and of every department above, nearest first."""
    found: list[int] = []
    for department in departments:
        seen: set[int] = set()
        current: int | None = department
        while current is not None and current not in seen:
            seen.add(current)
            head = heads.get(current)
            if head is not None and head not in found:
                found.append(head)
            current = parents.get(current)
    return found


def next_head(heads: list[int], *, approver_ids: list[int], requester_id: int,
              responsible_id: int) -> int | None:
    """Whom an unanswered request passes to: the first head (``heads`` nearest first) above
    every head already among its approvers, never the requester or the responsible; None when
    nobody is left.

    >>> next_head([7, 5, 1], approver_ids=[3], requester_id=9, responsible_id=9)
    7
    >>> next_head([7, 5, 1], approver_ids=[3, 7], requester_id=9, responsible_id=9)
    5
    >>> next_head([7], approver_ids=[7], requester_id=9, responsible_id=9) is None
    True
    """
    reached = max((heads.index(a) for a in approver_ids if a in heads), default=-1)
    for head in heads[reached + 1:]:
        if head not in (requester_id, responsible_id) and head not in approver_ids:
            return head
    return None

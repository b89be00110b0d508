"""The deadline guard's pure rules (portal_ext.deadlines.rules), property-based."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from portal_ext.deadlines import rules
from portal_ext.deadlines.rules import (
    APPROVAL,
    FREE,
    LOCKED,
    MODES,
    REASON,
    Policy,
    effective_policy,
    is_exempt,
    is_postponement,
    requirement,
    strictest,
)

BASE = datetime(2000, 1, 3, 15, 0)  # a fixed instant: the rules read no clock
limits = st.one_of(st.none(), st.integers(min_value=0, max_value=20))
policies = st.builds(Policy, mode=st.sampled_from(MODES), max_postponements=limits,
                     max_delay_days=limits, exempt_heads=st.booleans())
instants = st.one_of(st.none(), st.integers(min_value=-30 * 24, max_value=30 * 24).map(
    lambda hours: BASE + timedelta(hours=hours)))


def test_the_worked_example_of_the_docstring() -> None:
    default = Policy("reason_required", max_postponements=2)
    overrides = {5: Policy("approval_required")}
    parents: dict[int, int | None] = {7: 5, 9: None, 5: None}
    assert effective_policy(default, overrides, [7, 9], parents) == Policy(
        "approval_required", 2, None, True)
    assert requirement(default, old=BASE, new=BASE + timedelta(days=3), postponements_before=2,
                       original=BASE, exempt=False) == APPROVAL
    assert requirement(default, old=BASE, new=BASE + timedelta(days=3), postponements_before=1,
                       original=BASE, exempt=False) == REASON


@given(st.lists(policies, min_size=1, max_size=5))
def test_the_strictest_policy_is_at_least_as_strict_as_each(chosen: list[Policy]) -> None:
    result = strictest(chosen)
    assert result in chosen or result.mode in {p.mode for p in chosen}
    for policy in chosen:
        assert MODES.index(result.mode) >= MODES.index(policy.mode)
        if policy.max_postponements is not None:
            assert result.max_postponements is not None
            assert result.max_postponements <= policy.max_postponements
        if policy.max_delay_days is not None:
            assert result.max_delay_days is not None
            assert result.max_delay_days <= policy.max_delay_days
        assert not result.exempt_heads or policy.exempt_heads


@given(policies, st.dictionaries(st.integers(1, 6), policies, max_size=4),
       st.lists(st.integers(1, 6), max_size=4, unique=True))
def test_a_person_in_several_departments_gets_the_strictest_of_them(
        default: Policy, overrides: dict[int, Policy], departments: list[int]) -> None:
    parents: dict[int, int | None] = {d: (d - 1 if d > 1 else None) for d in range(1, 7)}
    result = effective_policy(default, overrides, departments, parents)
    for department in departments:
        own = rules.department_policy(default, overrides, department, parents)
        assert MODES.index(result.mode) >= MODES.index(own.mode)
    if not departments:
        assert result == default


@given(policies, instants, instants, st.integers(0, 25), st.booleans())
def test_only_a_postponement_by_someone_bound_is_ever_restricted(
        policy: Policy, old: datetime | None, new: datetime | None, before: int,
        exempt: bool) -> None:
    need = requirement(policy, old=old, new=new, postponements_before=before, original=old,
                       exempt=exempt)
    if exempt or not is_postponement(old, new):
        assert need == FREE
    elif policy.mode == "locked":
        assert need == LOCKED
    elif policy.mode == "approval_required":
        assert need == APPROVAL
    else:
        within = rules.beyond_limits(policy, postponements_before=before, original=old,
                                     new=new) is False
        assert need == (APPROVAL if not within else (REASON if policy.mode == "reason_required"
                                                      else FREE))


@given(instants, instants)
def test_a_postponement_is_a_later_deadline_or_one_removed(old: datetime | None,
                                                            new: datetime | None) -> None:
    expected = old is not None and (new is None or new > old)
    assert is_postponement(old, new) is expected


@given(policies, st.integers(0, 25))
def test_the_count_limit_needs_approval_from_the_postponement_past_it(policy: Policy,
                                                                      before: int) -> None:
    policy = Policy("reason_required", max_postponements=3)
    need = requirement(policy, old=BASE, new=BASE + timedelta(hours=1),
                       postponements_before=before, original=BASE, exempt=False)
    assert need == (REASON if before < 3 else APPROVAL)


@given(st.integers(0, 40), st.integers(0, 40 * 24))
def test_the_delay_limit_counts_from_the_original_deadline(days: int, hours: int) -> None:
    policy = Policy("reason_required", max_delay_days=days)
    need = requirement(policy, old=BASE + timedelta(hours=1), new=BASE + timedelta(hours=hours + 2),
                       postponements_before=0, original=BASE, exempt=False)
    assert need == (REASON if hours + 2 <= days * 24 else APPROVAL)
    assert requirement(policy, old=BASE, new=None, postponements_before=0, original=BASE,
                       exempt=False) == APPROVAL  # removing a deadline is past any limit


@given(st.booleans(), st.booleans())
def test_who_is_exempt(heads_exempt: bool, admin: bool) -> None:
    policy = Policy("locked", exempt_heads=heads_exempt)
    creator, responsible, head, other = 1, 2, 3, 4
    common: dict[str, Any] = {"creator_id": creator, "responsible_id": responsible,
                              "head_ids": [head], "policy": policy}
    assert is_exempt(creator, is_admin=admin, **common)
    assert is_exempt(head, is_admin=admin, **common) is (heads_exempt or admin)
    assert is_exempt(responsible, is_admin=admin, **common) is admin
    assert is_exempt(other, is_admin=admin, **common) is admin
    # A task one set for oneself binds one all the same.
    assert not is_exempt(responsible, is_admin=False, creator_id=responsible,
                         responsible_id=responsible, head_ids=[head], policy=policy)


def test_approvers_are_the_creator_else_the_nearest_head() -> None:
    assert rules.approvers(creator_id=1, responsible_id=2, requester_id=2, head_ids=[3]) == [1]
    assert rules.approvers(creator_id=2, responsible_id=2, requester_id=2, head_ids=[3, 9]) == [3]
    assert rules.approvers(creator_id=2, responsible_id=2, requester_id=2, head_ids=[2, 9]) == [9]
    assert rules.heads_above([7, 9], {7: 5, 5: None, 9: None}, {7: None, 5: 4, 9: 8}) == [4, 8]

"""Successor strategies (portal_ext.transfers.strategies): the worked example of the module's
docstring, the other strategies, and properties of spreading by load over random inputs."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal_ext.transfers.errors import NoSuccessor
from portal_ext.transfers.strategies import (
    ABSENT,
    DISMISSED,
    IS_THE_USER,
    Candidate,
    adjusted,
    assign,
    department_members,
    eligible,
    named,
    nearest_head,
    per_type,
    spread,
)

IVANOVA, PETROV, SIDOROVA, KOZLOV, ORLOV = 2, 5, 6, 7, 9


class Reversed(random.Random):
    """Ranks candidates in reverse of the given order (a predictable tie-break)."""

    def shuffle(self, x: Any) -> None:
        x.reverse()


def deals(n: int, first: int = 100) -> list[tuple[str, int]]:
    return [("deal", first + i) for i in range(n)]


def test_the_worked_example_of_the_docstring() -> None:
    # Loads Petrov 5, Sidorova 2, Kozlov 3; ties go to Kozlov, then Sidorova, then Petrov.
    plan = spread([Candidate(PETROV), Candidate(SIDOROVA), Candidate(KOZLOV)],
                  {PETROV: 5, SIDOROVA: 2, KOZLOV: 3}, dismissed_id=IVANOVA, rng=Reversed())
    decision = assign(plan, deals(6))
    assert [decision.assignments[d] for d in deals(6)] == [
        SIDOROVA, KOZLOV, SIDOROVA, KOZLOV, SIDOROVA, KOZLOV]
    # 16 units over 3 people: 5, 5, 6 at best, and that is what they carry now.
    assert {s.user_id: s.load_after for s in decision.shares.values()} == {
        PETROV: 5, SIDOROVA: 5, KOZLOV: 6}
    assert decision.shares[PETROV].total == 0
    assert decision.reasons[("deal", 100)] == "least_loaded"


def test_a_heavily_loaded_candidate_gets_nothing_and_the_rest_share_evenly() -> None:
    plan = spread([Candidate(PETROV), Candidate(SIDOROVA), Candidate(KOZLOV)],
                  {PETROV: 100}, dismissed_id=IVANOVA, rng=random.Random(1))
    decision = assign(plan, deals(6))
    assert {uid: s.total for uid, s in decision.shares.items()} == {
        PETROV: 0, SIDOROVA: 3, KOZLOV: 3}


def test_spread_skips_the_dismissed_the_absent_and_the_user_and_says_why() -> None:
    plan = spread([Candidate(IVANOVA), Candidate(PETROV, active=False),
                   Candidate(SIDOROVA, absent=True), Candidate(KOZLOV)], {},
                  dismissed_id=IVANOVA, rng=random.Random(3))
    decision = assign(plan, deals(4))
    assert set(decision.assignments.values()) == {KOZLOV}
    assert decision.skipped == {IVANOVA: IS_THE_USER, PETROV: DISMISSED, SIDOROVA: ABSENT}
    assert decision.as_json()["skipped"][0] == {"user_id": IVANOVA,
                                                "reason": "the dismissed user"}


def test_spread_with_nobody_left_refuses() -> None:
    with pytest.raises(NoSuccessor):
        spread([Candidate(PETROV, active=False), Candidate(SIDOROVA, absent=True)], {},
               dismissed_id=IVANOVA, rng=random.Random(0))


def test_an_activity_follows_its_deal_to_the_same_successor() -> None:
    plan = spread([Candidate(PETROV), Candidate(SIDOROVA)], {PETROV: 0, SIDOROVA: 0},
                  dismissed_id=IVANOVA, rng=Reversed())
    # Ties: Sidorova first. Deal 100 -> Sidorova, deal 101 -> Petrov.
    decision = assign(plan, [*deals(2), ("activity", 7), ("task", 8), ("activity", 9)],
                      about={("activity", 7): ("deal", 101), ("task", 8): ("deal", 100),
                             ("activity", 9): ("deal", 555)})
    assert decision.assignments[("activity", 7)] == PETROV
    assert decision.reasons[("activity", 7)] == "follows deal 101"
    assert decision.assignments[("task", 8)] == SIDOROVA
    # Its deal does not move: dealt like any item (loads 2 and 2 -> Sidorova ranked first).
    assert decision.reasons[("activity", 9)] == "least_loaded"
    assert decision.assignments[("activity", 9)] == SIDOROVA


def test_the_same_item_listed_twice_keeps_its_successor() -> None:
    plan = spread([Candidate(PETROV), Candidate(SIDOROVA)], {}, dismissed_id=IVANOVA,
                  rng=random.Random(5))
    first = plan.pick("deal", 1)
    assert plan.pick("deal", 1) == first
    assert sum(s.total for s in plan.decision.shares.values()) == 1


def test_named_person_gets_everything_even_when_away() -> None:
    plan = named(Candidate(PETROV, absent=True), dismissed_id=IVANOVA)
    decision = assign(plan, [("lead", 1), ("company", 2), ("task", 3)])
    assert set(decision.assignments.values()) == {PETROV}
    assert dict(decision.shares[PETROV].received) == {"lead": 1, "company": 1, "task": 1}


@pytest.mark.parametrize("who", [Candidate(PETROV, active=False), Candidate(IVANOVA)])
def test_named_person_must_be_active_and_someone_else(who: Candidate) -> None:
    with pytest.raises(NoSuccessor):
        named(who, dismissed_id=IVANOVA)


def test_per_type_successors() -> None:
    plan = per_type({"deal": Candidate(PETROV), "lead": Candidate(SIDOROVA)},
                    dismissed_id=IVANOVA)
    decision = assign(plan, [("deal", 1), ("lead", 2), ("deal", 3)])
    assert decision.assignments == {("deal", 1): PETROV, ("lead", 2): SIDOROVA,
                                    ("deal", 3): PETROV}
    with pytest.raises(NoSuccessor):
        plan.pick("task", 4)  # no successor chosen for tasks
    with pytest.raises(NoSuccessor):
        per_type({"deal": Candidate(KOZLOV, active=False)}, dismissed_id=IVANOVA)


def test_eligible_keeps_first_seen_order_without_repeats() -> None:
    usable, skipped = eligible([Candidate(KOZLOV), Candidate(PETROV), Candidate(KOZLOV)],
                               dismissed_id=IVANOVA, skip_absent=True)
    assert usable == [KOZLOV, PETROV] and skipped == {}


def test_nearest_head_walks_up_when_the_user_heads_their_own_department() -> None:
    heads = {1: 2, 2: 3, 3: 4}
    parents = {1: None, 2: 1, 3: 2}
    assert nearest_head([3], heads, parents, active={2, 3, 4}, dismissed_id=5) == 4
    assert nearest_head([3], heads, parents, active={2, 3, 4}, dismissed_id=4) == 3
    # The sales head is dismissed too: the general director.
    assert nearest_head([3], heads, parents, active={2, 4}, dismissed_id=4) == 2
    assert nearest_head([], heads, parents, active={2}, dismissed_id=4) is None


def test_department_members_include_sub_departments() -> None:
    members = {2: [3], 3: [5, 4], 4: [9, 8], 5: [11]}
    parents = {1: None, 2: 1, 3: 2, 4: 2, 5: 1}
    assert department_members(2, members, parents) == [3, 4, 5, 8, 9]
    assert department_members(4, members, parents) == [8, 9]


# -- properties -------------------------------------------------------------------------------
people = st.lists(st.tuples(st.integers(10, 40), st.booleans(), st.booleans(),
                            st.integers(0, 30)), min_size=1, max_size=8,
                  unique_by=lambda t: t[0])


@settings(max_examples=200, deadline=None)
@given(people=people, n_items=st.integers(0, 60), seed=st.integers(0, 1000))
def test_spreading_by_load_is_as_even_as_possible(
        people: list[tuple[int, bool, bool, int]], n_items: int, seed: int) -> None:
    candidates = [Candidate(uid, active=active, absent=absent)
                  for uid, active, absent, _ in people]
    loads = {uid: load for uid, _, _, load in people}
    usable = [c.user_id for c in candidates if c.active and not c.absent]
    if not usable:
        with pytest.raises(NoSuccessor):
            spread(candidates, loads, dismissed_id=1, rng=random.Random(seed))
        return
    items = deals(n_items)
    decision = assign(spread(candidates, loads, dismissed_id=1, rng=random.Random(seed)),
                      items)
    # Every item exactly once, to a usable candidate only.
    assert sorted(decision.assignments) == sorted(items)
    assert set(decision.assignments.values()) <= set(usable)
    received = {uid: 0 for uid in usable}
    for uid in decision.assignments.values():
        received[uid] += 1
    after = {uid: loads[uid] + received[uid] for uid in usable}
    lowest = min(after.values())
    # Nobody who received anything ends more than one above the least loaded.
    assert all(after[uid] <= lowest + 1 for uid in usable if received[uid] > 0)
    # ... which means the spread is the most even one: a receiver could not have been spared.
    assert sum(received.values()) == n_items
    shares = {s.user_id: s.total for s in decision.shares.values()}
    assert shares == received


def test_an_adjusted_split_keeps_the_first_dealt_and_moves_only_the_surplus() -> None:
    # The docstring's example: deals 1-4 dealt to Sidorova (1, 3) and Kozlov (2, 4).
    dealt = [("deal", 1, SIDOROVA), ("deal", 2, KOZLOV), ("deal", 3, SIDOROVA),
             ("deal", 4, KOZLOV), ("lead", 9, KOZLOV)]
    wanted = {SIDOROVA: {"deal": 1}, KOZLOV: {"deal": 1, "lead": 1}, PETROV: {"deal": 2}}
    assert adjusted(dealt, wanted) == {("deal", 3): PETROV, ("deal", 4): PETROV}
    # The split as it was: nothing changes.
    assert adjusted(dealt, {SIDOROVA: {"deal": 2}, KOZLOV: {"deal": 2, "lead": 1}}) == {}

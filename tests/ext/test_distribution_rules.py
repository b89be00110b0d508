"""The picking rules (portal_ext.distribution.rules): the properties the issue names."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from portal_ext.distribution import rules
from portal_ext.distribution.rules import Person

NOW = st.datetimes(min_value=datetime.min + timedelta(days=60),
                   max_value=datetime.max - timedelta(days=60))


@st.composite
def people(draw: st.DrawFn, now: datetime, min_size: int = 1) -> list[Person]:
    ids = draw(st.lists(st.integers(1, 60), min_size=min_size, max_size=8, unique=True))
    result = []
    for uid in ids:
        away = draw(st.sampled_from([None, -1, 1, 10]))
        last = draw(st.one_of(st.none(), st.integers(1, 500)))
        result.append(Person(
            uid, active=draw(st.booleans()) or draw(st.booleans()),
            absent_until=None if away is None else now + timedelta(days=away),
            load=draw(st.integers(0, 6)), picked_today=draw(st.integers(0, 3)),
            last_picked_at=None if last is None else now - timedelta(hours=last)))
    return result


@settings(max_examples=150)
@given(data=st.data(), now=NOW, strategy=st.sampled_from(rules.STRATEGIES),
       quota=st.one_of(st.none(), st.integers(1, 3)), seed=st.integers(0, 2**31))
def test_never_absent_dismissed_or_over_quota(data: st.DataObject, now: datetime, strategy: str,
                                              quota: int | None, seed: int) -> None:
    team = data.draw(people(now))
    decision = rules.pick(7, team, strategy=strategy, now=now, rng=random.Random(seed),
                          quota=quota)
    by_id = {p.user_id: p for p in team}
    if decision.chosen_id is None:
        assert all(c.skipped for c in decision.candidates)
        return
    chosen = by_id[decision.chosen_id]
    assert chosen.active and not chosen.away(now)
    if quota is not None:
        assert chosen.picked_today < quota
    free = [p for p in team if p.active and not p.away(now)
            and (quota is None or p.picked_today < quota)]
    if strategy == rules.LEAST_LOADED:
        assert all(chosen.load <= p.load for p in free)


@settings(max_examples=60)
@given(ids=st.lists(st.integers(1, 99), min_size=1, max_size=7, unique=True),
       leads=st.integers(1, 80), now=NOW)
def test_round_robin_spreads_within_one(ids: list[int], leads: int, now: datetime) -> None:
    counts = dict.fromkeys(ids, 0)
    last = None
    for _ in range(leads):
        decision = rules.pick(1, [Person(u) for u in ids], strategy=rules.ROUND_ROBIN, now=now,
                              rng=random.Random(0), last_chosen_id=last)
        assert decision.chosen_id is not None
        counts[decision.chosen_id] += 1
        last = decision.chosen_id
    assert max(counts.values()) - min(counts.values()) <= 1


@settings(max_examples=60)
@given(ids=st.lists(st.integers(1, 99), min_size=1, max_size=6, unique=True),
       leads=st.integers(1, 40), quota=st.integers(1, 4), now=NOW,
       strategy=st.sampled_from(rules.STRATEGIES), seed=st.integers(0, 1000))
def test_quota_is_never_exceeded_over_a_day(ids: list[int], leads: int, quota: int,
                                            now: datetime, strategy: str, seed: int) -> None:
    today = dict.fromkeys(ids, 0)
    rng = random.Random(seed)
    last = None
    for _ in range(leads):
        team = [Person(u, picked_today=today[u]) for u in ids]
        decision = rules.pick(1, team, strategy=strategy, now=now, rng=rng, quota=quota,
                              last_chosen_id=last)
        if decision.chosen_id is None:
            assert all(c.skipped == rules.QUOTA for c in decision.candidates)
            continue
        today[decision.chosen_id] += 1
        last = decision.chosen_id
    assert max(today.values()) <= quota


@settings(max_examples=60)
@given(data=st.data(), now=NOW, strategy=st.sampled_from(rules.STRATEGIES),
       seed=st.integers(0, 2**31))
def test_same_seed_same_picks(data: st.DataObject, now: datetime, strategy: str,
                              seed: int) -> None:
    team = data.draw(people(now))
    first = rules.pick(3, team, strategy=strategy, now=now, rng=random.Random(seed), quota=2)
    again = rules.pick(3, team, strategy=strategy, now=now, rng=random.Random(seed), quota=2)
    assert first == again
    managers = [(p.user_id, p.load, i) for i, p in enumerate(team)]
    for main in rules.MAIN_STRATEGIES:
        assert (rules.pick_main(managers, strategy=main, rng=random.Random(seed))
                == rules.pick_main(managers, strategy=main, rng=random.Random(seed)))


@given(now=NOW)
def test_the_docstring_example(now: datetime) -> None:
    team = [Person(11, load=3, last_picked_at=now - timedelta(days=3)),
            Person(12, load=1, absent_until=now + timedelta(days=7)),
            Person(13, active=False),
            Person(14, load=3, picked_today=1, last_picked_at=now - timedelta(days=4)),
            Person(15, load=2, picked_today=2, last_picked_at=now - timedelta(minutes=30))]
    decision = rules.pick(5, team, strategy=rules.LEAST_LOADED, now=now, rng=random.Random(1),
                          quota=2)
    assert decision.chosen_id == 14
    assert {c.user_id: c.skipped for c in decision.candidates} == {
        11: None, 12: rules.ABSENT, 13: rules.DISMISSED, 14: None, 15: rules.QUOTA}


@given(t0=NOW)
def test_head_then_fallback_when_nobody_is_free(t0: datetime) -> None:
    away = Person(1, absent_until=t0 + timedelta(days=1))
    decision = rules.pick(5, [away], strategy=rules.RANDOM, now=t0, rng=random.Random(0),
                          head=Person(2, active=False), fallback=Person(3))
    assert (decision.chosen_id, decision.fallback) == (3, rules.BY_FALLBACK)
    assert [c.skipped for c in decision.skipped_fallbacks] == [rules.DISMISSED, None]
    nobody = rules.pick(5, [away], strategy=rules.RANDOM, now=t0, rng=random.Random(0))
    assert nobody.chosen_id is None


def test_main_manager_strategies() -> None:
    managers = [(11, 3, 2), (12, 1, 3), (13, 1, 1)]
    rng = random.Random(0)
    assert rules.pick_main(managers, strategy=rules.LEAST_LOADED, rng=rng).chosen_id == 12
    assert rules.pick_main(managers, strategy=rules.PRIORITY, rng=rng).chosen_id == 13
    assert rules.pick_main(managers, strategy=rules.RANDOM, rng=rng).chosen_id in (11, 12, 13)

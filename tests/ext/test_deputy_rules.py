"""Deputy resolution: worked cases and a property over random absence graphs."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from portal_ext.absences.rules import MAX_DEPTH, Away, Roster, resolve_cover

T = datetime(2026, 12, 1, 12, 0)  # a pure rule takes its `now`: any instant serves
AWAY = Away(T - timedelta(days=1), T + timedelta(days=7))


def away(deputy: int | None = None) -> list[Away]:
    return [Away(AWAY.start, AWAY.end, deputy)]


def test_named_deputy_covers() -> None:
    roster = Roster(active={1, 2, 3}, absences={2: away(3)})
    cover = resolve_cover(roster, 2, T)
    assert (cover.user_id, cover.reason, cover.path) == (3, "deputy", (2, 3))


def test_chain_is_followed_when_the_deputy_is_away_too() -> None:
    roster = Roster(active={1, 2, 3, 4}, absences={2: away(3), 3: away(4)})
    cover = resolve_cover(roster, 2, T)
    assert (cover.user_id, cover.reason, cover.path) == (4, "chain", (2, 3, 4))


def test_standing_deputy_is_used_when_the_absence_names_none() -> None:
    roster = Roster(active={2, 5}, absences={2: away(None)}, standing_deputies={2: 5})
    assert resolve_cover(roster, 2, T).user_id == 5


def test_cycle_falls_back_to_the_department_head() -> None:
    roster = Roster(
        active={1, 2, 3, 9}, absences={2: away(3), 3: away(2)},
        departments_of={2: [20]}, department_head={20: 9},
    )
    cover = resolve_cover(roster, 2, T)
    assert (cover.user_id, cover.reason) == (9, "head")


def test_dismissed_deputy_never_receives_and_the_head_of_the_parent_department_is_next() -> None:
    roster = Roster(
        active={2, 8}, absences={2: away(3)},  # 3 is dismissed
        departments_of={2: [21]}, department_head={21: 2, 20: 8}, department_parent={21: 20},
    )
    cover = resolve_cover(roster, 2, T)
    assert (cover.user_id, cover.reason) == (8, "head")


def test_admin_is_the_last_resort_then_nobody() -> None:
    roster = Roster(active={1, 2}, absences={2: away(None)}, admins=[1])
    assert resolve_cover(roster, 2, T).user_id == 1
    roster.absences = {2: away(None), 1: away(None)}  # the admin is away too
    cover = resolve_cover(roster, 2, T)
    assert (cover.user_id, cover.reason) == (None, "nobody")


def test_absence_outside_the_moment_does_not_count() -> None:
    roster = Roster(active={2, 3, 4}, absences={2: away(3), 3: [Away(T + timedelta(days=30),
                                                                    T + timedelta(days=31), 4)]})
    assert resolve_cover(roster, 2, T).user_id == 3


@st.composite
def rosters(draw: st.DrawFn) -> tuple[Roster, int]:
    users = list(range(1, draw(st.integers(2, 12)) + 1))
    active = set(draw(st.lists(st.sampled_from(users), unique=True)))
    absences = {
        user: away(draw(st.one_of(st.none(), st.sampled_from(users))))
        for user in draw(st.lists(st.sampled_from(users), unique=True))
    }
    standing = draw(st.dictionaries(st.sampled_from(users), st.sampled_from(users)))
    departments = list(range(100, 100 + draw(st.integers(0, 4))))
    departments_of = {u: draw(st.lists(st.sampled_from(departments), max_size=2))
                      for u in users} if departments else {}
    heads = {d: draw(st.one_of(st.none(), st.sampled_from(users))) for d in departments}
    parents = {d: draw(st.one_of(st.none(), st.sampled_from(departments)))
               for d in departments}  # may contain cycles on purpose
    admins = draw(st.lists(st.sampled_from(users), max_size=2, unique=True))
    roster = Roster(active, absences, standing, departments_of, heads, parents, admins)
    return roster, draw(st.sampled_from(users))


@settings(max_examples=400, deadline=None)
@given(rosters())
def test_the_answer_is_a_present_active_other_user_or_explicitly_nobody(
    case: tuple[Roster, int],
) -> None:
    roster, absent = case
    cover = resolve_cover(roster, absent, T)
    if cover.user_id is None:
        assert cover.reason == "nobody"
        return
    assert cover.user_id != absent
    assert cover.user_id in roster.active
    assert roster.is_present(cover.user_id, T)
    assert len(set(cover.path)) == len(cover.path), "the path never revisits anyone"
    assert cover.path[0] == absent and cover.path[-1] == cover.user_id
    assert len(cover.path) <= MAX_DEPTH + 1

"""Who gets a copy: the worked examples of portal_ext.notifications.rules, and properties over
random teams and absences."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from portal_ext.absences.rules import Cover
from portal_ext.notifications.kinds import team_kind
from portal_ext.notifications.rules import Absent, Recipient, TeamView, recipients

ADMIN, IVANOVA, PETROV, SIDOROVA, KOZLOV = 1, 2, 3, 4, 5
UNTIL = datetime(2026, 12, 14, 21, 0)  # a pure rule takes its times: any instant serves
EVERYONE = {ADMIN, IVANOVA, PETROV, SIDOROVA, KOZLOV}


def away_ivanova(user_id: int) -> Absent | None:
    if user_id == IVANOVA:
        return Absent(UNTIL, Cover(PETROV, (IVANOVA, PETROV), "deputy"))
    return None


def sales(*members: int, kinds: tuple[str, ...] = ("new_lead",)) -> TeamView:
    return TeamView(7, "Equipment sales", frozenset(kinds), frozenset(members))


def who(found: list[Recipient]) -> dict[int, list[str]]:
    return {r.user_id: [x.kind for x in r.reasons] for r in found}


def test_the_deputy_gets_a_copy_while_the_owner_is_away() -> None:
    found = recipients(owner_id=IVANOVA, actor_id=ADMIN, kind="new_lead", away=away_ivanova,
                       teams=[], active=EVERYONE)
    assert who(found) == {PETROV: ["deputy"]}
    assert found[0].reasons[0].until == UNTIL and found[0].reason == "deputy"


def test_the_deputy_who_caused_it_gets_nothing() -> None:
    found = recipients(owner_id=IVANOVA, actor_id=PETROV, kind="new_lead", away=away_ivanova,
                       teams=[sales(IVANOVA, PETROV)], active=EVERYONE)
    assert found == []


def test_a_deputy_in_the_team_gets_one_copy_with_both_reasons() -> None:
    found = recipients(owner_id=IVANOVA, actor_id=ADMIN, kind="new_lead", away=away_ivanova,
                       teams=[sales(IVANOVA, PETROV, SIDOROVA)], active=EVERYONE)
    assert who(found) == {PETROV: ["deputy", "team"], SIDOROVA: ["team"]}
    assert [r.reason for r in found] == ["deputy+team", "team"]


def test_an_away_member_is_replaced_by_their_cover() -> None:
    found = recipients(owner_id=SIDOROVA, actor_id=None, kind="new_lead", away=away_ivanova,
                       teams=[sales(IVANOVA, SIDOROVA)], active=EVERYONE)
    assert who(found) == {PETROV: ["team"]}
    assert found[0].reasons[0].stands_in_for == IVANOVA


def test_a_member_covering_for_a_colleague_in_the_same_team_gets_one_plain_copy() -> None:
    found = recipients(owner_id=SIDOROVA, actor_id=None, kind="new_lead", away=away_ivanova,
                       teams=[sales(IVANOVA, PETROV, SIDOROVA)], active=EVERYONE)
    assert who(found) == {PETROV: ["team"]}
    assert found[0].reasons[0].stands_in_for is None


def test_dismissed_members_and_unshared_kinds_get_nothing() -> None:
    team = sales(IVANOVA, SIDOROVA, KOZLOV)
    found = recipients(owner_id=SIDOROVA, actor_id=None, kind="new_lead", away=lambda _: None,
                       teams=[team], active=EVERYONE - {KOZLOV})
    assert who(found) == {IVANOVA: ["team"]}
    found = recipients(owner_id=SIDOROVA, actor_id=None, kind="comment", away=lambda _: None,
                       teams=[team], active=EVERYONE)
    assert found == []


def test_nobody_covering_means_no_copy() -> None:
    def nobody(user_id: int) -> Absent | None:
        return Absent(UNTIL, Cover(None, (user_id,), "nobody")) if user_id == IVANOVA else None

    assert recipients(owner_id=IVANOVA, actor_id=None, kind="message", away=nobody, teams=[],
                      active=EVERYONE) == []


def test_team_kinds_of_the_portals_notices() -> None:
    assert [team_kind(k, e) for k, e in [("crm_assigned", "LEAD"), ("crm_assigned", "DEAL"),
                                         ("crm_assigned", "COMPANY"), ("task_deadline_soon",
                                                                       "TASK"),
                                         ("email_incoming", "DEAL"), ("task_comment", "TASK"),
                                         ("message", None)]] == [
        "new_lead", "deal_change", "client_assigned", "task_deadline", "incoming_email",
        "comment", "message"]


people = st.integers(min_value=1, max_value=8)


@settings(max_examples=300, deadline=None)
@given(owner=people, actor=st.none() | people,
       teams=st.lists(st.sets(people, min_size=2, max_size=6), max_size=4),
       absent=st.dictionaries(people, st.none() | people, max_size=5),
       dismissed=st.sets(people, max_size=3))
def test_every_recipient_is_unique_active_and_neither_owner_nor_actor(
        owner: int, actor: int | None, teams: list[set[int]],
        absent: dict[int, int | None], dismissed: set[int]) -> None:
    active = set(range(1, 9)) - dismissed

    def away(user_id: int) -> Absent | None:
        if user_id not in absent:
            return None
        return Absent(UNTIL, Cover(absent[user_id], (user_id,), "deputy"))

    views = [TeamView(i, f"T{i}", frozenset({"new_lead"}), frozenset(m))
             for i, m in enumerate(teams)]
    found = recipients(owner_id=owner, actor_id=actor, kind="new_lead", away=away,
                       teams=views, active=active)
    ids = [r.user_id for r in found]
    assert len(ids) == len(set(ids))
    assert not set(ids) & {owner, actor} and set(ids) <= active
    for recipient in found:
        assert recipient.reasons
        for reason in recipient.reasons:
            if reason.kind == "team":  # the recipient is a member, or stands in for one
                team = next(v for v in views if v.id == reason.team_id)
                assert owner in team.members
                assert recipient.user_id in team.members or reason.stands_in_for in team.members

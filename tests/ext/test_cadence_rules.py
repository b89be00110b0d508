"""The cadence's rules: what counts as a contact, and where a company stands
(portal_ext.cadence.rules). Dates are built relative to an arbitrary day, never literal."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from portal_ext.cadence import rules
from portal_ext.cadence.rules import (
    COMPANY,
    CONTACT,
    DEAL,
    DEFAULT_INTERVALS,
    LEAD,
    ContactOptions,
    Interval,
)

OPTIONS = ContactOptions()
T = datetime(2000, 1, 1) + timedelta(days=4000, hours=10)  # any moment


def call(**extra: object) -> dict[str, object]:
    return {"ID": "7", "TYPE_ID": "2", "DIRECTION": "2", "COMPLETED": "Y", "SETTINGS": {},
            "RESPONSIBLE_ID": "3", **extra}


def email(**extra: object) -> dict[str, object]:
    return {"ID": "8", "TYPE_ID": "4", "DIRECTION": "1", "COMPLETED": "N", "SETTINGS": {},
            "RESPONSIBLE_ID": "3", **extra}


def counts(activity: dict[str, object], options: ContactOptions = OPTIONS,
           statistic: dict[str, object] | None = None, seconds: int = 120) -> bool:
    return rules.contact_of(activity, options, start=T, end=T + timedelta(seconds=seconds),
                            statistic=statistic) is not None


def test_a_completed_call_counts_a_planned_missed_or_failed_one_does_not() -> None:
    assert counts(call())
    assert not counts(call(COMPLETED="N"))
    assert not counts(call(DIRECTION="1", SETTINGS={"MISSED_CALL": True}))
    assert not counts(call(), statistic={"CALL_FAILED_CODE": "486", "CALL_DURATION": "0"})
    assert not counts(call(SETTINGS={"CALL_FAILED_CODE": "603"}))
    assert counts(call(), statistic={"CALL_FAILED_CODE": "200", "CALL_DURATION": "60"})


def test_the_minimum_duration() -> None:
    options = ContactOptions(min_call_seconds=30)
    assert not counts(call(), options, seconds=10)
    assert counts(call(), options, seconds=30)
    assert not counts(call(), options, statistic={"CALL_FAILED_CODE": "200",
                                                  "CALL_DURATION": "29"}, seconds=600)


def test_emails_incoming_open_count_outgoing_with_a_sending_error_do_not() -> None:
    assert counts(email())
    assert counts(email(DIRECTION="2", COMPLETED="Y"))
    assert not counts(email(DIRECTION="2", SETTINGS={"SENT_ERROR": "full"}))
    assert not counts(email(), ContactOptions(email_direction="out"))
    assert not counts(email(DIRECTION="2"), ContactOptions(email_direction="in"))


def test_meetings_only_when_the_setting_says_so() -> None:
    meeting = call(TYPE_ID="1")
    assert not counts(meeting)
    assert counts(meeting, ContactOptions(meetings=True))
    assert not counts({"ID": "1", "TYPE_ID": "3", "COMPLETED": "Y"})


def test_a_contact_counts_for_the_company_of_what_it_is_bound_to() -> None:
    links = {(CONTACT, 5): 100, (DEAL, 6): 101, (LEAD, 7): 102}
    assert rules.companies_of([(DEAL, 6)], links) == {101}
    assert rules.companies_of([(CONTACT, 5), (COMPANY, 100)], links) == {100}
    assert rules.companies_of([(LEAD, 7), (CONTACT, 9)], links) == {102}


def test_calendar_months_clamp_to_the_month_end() -> None:
    for year in (2001, 2004):
        end_jan = date(year, 1, 31)
        feb = rules.add_interval(end_jan, Interval(1, "month"))
        assert feb == date(year, 2, calendar.monthrange(year, 2)[1])
    assert rules.add_interval(date(2001, 12, 31), Interval(2, "month")) == date(2002, 2, 28)


def test_the_boundary_day_is_not_overdue_the_next_is() -> None:
    last = date(2001, 3, 3)
    due = last + timedelta(days=14)
    on_due = rules.standing("A", last_contact=last, created=last, today=due,
                            intervals=DEFAULT_INTERVALS)
    assert on_due.state == "warning" and on_due.due_at == due and not on_due.overdue
    after = rules.standing("A", last_contact=last, created=last, today=due + timedelta(days=1),
                           intervals=DEFAULT_INTERVALS)
    assert after.state == "overdue" and after.days_overdue == 1
    before = rules.standing("A", last_contact=last, created=last, today=due - timedelta(days=4),
                            intervals=DEFAULT_INTERVALS)
    assert before.state == "ok"


def test_never_contacted_counts_from_creation_and_no_category_is_listed() -> None:
    created = date(2001, 1, 31)
    got = rules.standing("B", last_contact=None, created=created, today=date(2001, 3, 1),
                         intervals=DEFAULT_INTERVALS)
    assert got.due_at == date(2001, 2, 28) and got.days_overdue == 1
    none = rules.standing(None, last_contact=None, created=created, today=date(2001, 3, 1),
                          intervals=DEFAULT_INTERVALS)
    assert none.state == "no_category" and none.due_at is None


def test_a_category_change_moves_the_due_date() -> None:
    last = date(2001, 5, 10)
    a = rules.standing("A", last_contact=last, created=last, today=last,
                       intervals=DEFAULT_INTERVALS)
    c = rules.standing("C", last_contact=last, created=last, today=last,
                       intervals=DEFAULT_INTERVALS)
    assert a.due_at == date(2001, 5, 24) and c.due_at == date(2001, 7, 10)


days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
intervals = st.builds(Interval, st.integers(1, 400), st.sampled_from(rules.UNITS),
                      st.integers(0, 30))


@given(days, days, intervals)
def test_overdue_exactly_after_the_due_day(last: date, today: date, interval: Interval) -> None:
    got = rules.standing("A", last_contact=last, created=last, today=today,
                         intervals={"A": interval})
    assert got.due_at is not None and got.due_at > last
    assert got.overdue == (today > got.due_at)
    assert got.days_overdue == max(0, (today - got.due_at).days)
    if got.state == "warning":
        assert got.due_at - timedelta(days=interval.warning_days) <= today <= got.due_at


@given(days, st.integers(1, 36))
def test_month_steps_land_in_the_right_month_never_past_its_end(start: date, n: int) -> None:
    got = rules.add_interval(start, Interval(n, "month"))
    assert (got.year * 12 + got.month) - (start.year * 12 + start.month) == n
    assert got.day == min(start.day, calendar.monthrange(got.year, got.month)[1])


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(0, 10 ** 6)), max_size=8))
def test_latest_is_the_maximum(items: list[tuple[int, int]]) -> None:
    contacts = [rules.Contact(i, "call", "out", T + timedelta(minutes=m), 1) for i, m in items]
    got = rules.latest(contacts)
    if not contacts:
        assert got is None
    else:
        assert got is not None and got.at == max(c.at for c in contacts)

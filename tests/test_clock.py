"""The test clock's own arithmetic (tests/clock.py), including its worked examples."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime

import pytest

import tests.clock
from tests.clock import TestClock, parse_as_of


def test_the_worked_examples_hold() -> None:
    assert doctest.testmod(tests.clock).failed == 0


def test_a_day_just_after_midnight_in_the_portal_is_the_portal_s_day() -> None:
    # 21:30 UTC is 00:30 the next day in Moscow: the portal's today, not the host's.
    clock = TestClock(datetime(2029, 12, 31, 21, 30))
    assert clock.today.isoformat() == "2030-01-01"
    assert clock.next_weekday(0) == 6  # 1 Jan 2030 is a Tuesday; the next Monday is the 7th


def test_a_bad_as_of_names_the_option() -> None:
    with pytest.raises(ValueError, match="--as-of"):
        parse_as_of("next week", now=datetime(2030, 1, 1, tzinfo=UTC))

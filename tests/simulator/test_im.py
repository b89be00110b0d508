"""Notifications sent over REST land in the recipient's inbox, as the portal delivers them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from simulator import SimError, SimEvent, Simulator
from simulator.im import tables as im_tables
from tests.simulator.staff import ADMIN, HEAD, SELLER, add_staff


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    add_staff(sim)
    return sim


def _inbox(sim: Simulator, user_id: int) -> list[Any]:
    n = im_tables.notifications
    with sim.engine.connect() as conn:
        return list(conn.execute(select(n).where(n.c.user_id == user_id).order_by(n.c.id)).all())


def test_system_notification_reaches_the_inbox(portal: Simulator) -> None:
    seen: list[SimEvent] = []
    portal.bus.subscribe_after(seen.append)
    answer = portal.call("im.notify.system.add", {"USER_ID": SELLER, "MESSAGE": "  Hello  "})
    (note,) = _inbox(portal, SELLER)
    assert answer == {"result": note.id}
    assert (note.message, note.notify_type, note.kind, note.from_user_id) == (
        "Hello", "system", "message", None)
    (event,) = [e for e in seen if e.name == "ONIMNOTIFYADD"]
    assert event.after is not None and event.after["user_id"] == SELLER


def test_same_tag_replaces_the_older_notification(portal: Simulator) -> None:
    portal.call("im.notify.system.add", {"USER_ID": SELLER, "MESSAGE": "3 overdue", "TAG": "DIG"})
    portal.call("im.notify.system.add", {"USER_ID": SELLER, "MESSAGE": "other", "TAG": "X"})
    portal.call("im.notify.system.add", {"USER_ID": SELLER, "MESSAGE": "4 overdue", "TAG": "DIG",
                                         "SUB_TAG": "DIG|4"})
    portal.call("im.notify.system.add", {"USER_ID": HEAD, "MESSAGE": "yours", "TAG": "DIG"})
    inbox = _inbox(portal, SELLER)
    assert [(n.message, n.tag) for n in inbox] == [("other", "X"), ("4 overdue", "DIG")]
    assert inbox[1].sub_tag == "DIG|4"
    assert [n.message for n in _inbox(portal, HEAD)] == ["yours"]  # tags are per recipient


def test_personal_notifications_come_from_the_caller(portal: Simulator) -> None:
    portal.call("im.notify.personal.add", {"USER_ID": SELLER, "MESSAGE": "See me"}, user_id=HEAD)
    portal.call("im.notify", {"USER_ID": SELLER, "MESSAGE": "Personal by default"})
    portal.call("im.notify", {"USER_ID": SELLER, "MESSAGE": "System", "TYPE": "SYSTEM"})
    inbox = _inbox(portal, SELLER)
    assert [(n.notify_type, n.from_user_id) for n in inbox] == [
        ("personal", HEAD), ("personal", ADMIN), ("system", None)]


@pytest.mark.parametrize(("params", "code", "description"), [
    ({"MESSAGE": "x"}, "USER_ID_EMPTY", "User ID can't be empty"),
    ({"USER_ID": 0, "MESSAGE": "x"}, "USER_ID_EMPTY", "User ID can't be empty"),
    ({"USER_ID": SELLER, "MESSAGE": "   "}, "MESSAGE_EMPTY", "Message can't be empty"),
    ({"USER_ID": SELLER, "MESSAGE": "x", "ATTACH": [{"MESSAGE": "y" * 60_001}]},
     "ATTACH_OVERSIZE", "You have exceeded the maximum allowable size of attach"),
    ({"USER_ID": SELLER, "MESSAGE": "x", "ATTACH": "{not json"},
     "ATTACH_ERROR", "Incorrect attach params"),
])
def test_bad_notifications_are_refused(portal: Simulator, params: dict, code: str,
                                       description: str) -> None:
    with pytest.raises(SimError) as error:
        portal.call("im.notify.system.add", params)
    assert (error.value.code, error.value.description) == (code, description)
    assert _inbox(portal, SELLER) == []


def test_a_dismissed_user_gets_nothing(portal: Simulator) -> None:
    portal.call("user.update", {"ID": SELLER, "ACTIVE": "N"})
    assert portal.call("im.notify.system.add", {"USER_ID": SELLER, "MESSAGE": "x"}) == {
        "result": False}
    assert _inbox(portal, SELLER) == []


def test_read_marks_one_or_everything_from_an_id(portal: Simulator) -> None:
    ids = [portal.call("im.notify.system.add", {"USER_ID": SELLER, "MESSAGE": f"n{i}"})["result"]
           for i in range(3)]
    portal.call("im.notify.read", {"ID": ids[1], "ONLY_CURRENT": "Y"}, user_id=SELLER)
    assert [n.is_read for n in _inbox(portal, SELLER)] == [False, True, False]
    portal.call("im.notify.read", {"ID": ids[0]}, user_id=SELLER)
    assert all(n.is_read for n in _inbox(portal, SELLER))
    portal.call("im.notify.system.add", {"USER_ID": HEAD, "MESSAGE": "hers"})
    portal.call("im.notify.read", {"ID": ids[0]}, user_id=SELLER)
    assert [n.is_read for n in _inbox(portal, HEAD)] == [False]  # only the caller's own


def test_a_notification_replaced_by_its_tag_never_comes_back_with_the_same_id(
        portal: Simulator) -> None:
    seen: list[SimEvent] = []
    portal.bus.subscribe_after(seen.append)
    first = portal.call("im.notify.system.add", {"USER_ID": SELLER, "MESSAGE": "1 overdue",
                                                 "TAG": "DIG"})["result"]
    second = portal.call("im.notify.system.add", {"USER_ID": SELLER, "MESSAGE": "2 overdue",
                                                  "TAG": "DIG"})["result"]
    assert second > first
    (note,) = _inbox(portal, SELLER)
    assert (note.id, note.message) == (second, "2 overdue")
    ids = [e.after["id"] for e in seen if e.name == "ONIMNOTIFYADD" and e.after]
    assert len(set(ids)) == 2  # two deliveries, two distinct notifications

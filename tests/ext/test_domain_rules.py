"""The worked examples of the domains' pure rules (who oversees whom, which absences can be
handed over, how long a transfer can be undone), checked as their docstrings tell them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from portal_ext.directory.rules import head_ids, headed_subtree, role_of, sees
from portal_ext.handover.rules import can_hand_over, live_absences
from portal_ext.transfers.rules import may_close, may_undo, undo_deadline

NOW = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)  # any instant serves
IVANOVA, PETROV, SIDOROVA, KOZLOV, ORLOVA = 2, 3, 4, 6, 8


def department(portal_id: int, parent: int | None, head: int | None) -> SimpleNamespace:
    return SimpleNamespace(portal_department_id=portal_id, parent_portal_id=parent,
                           head_portal_user_id=head)


def person(user_id: int, *departments: int, admin: bool = False) -> SimpleNamespace:
    return SimpleNamespace(id=100 + user_id, portal_user_id=user_id, is_admin=admin,
                           department_ids=list(departments))


STRUCTURE = [department(1, None, IVANOVA), department(3, 1, PETROV),
             department(5, 3, SIDOROVA), department(7, 1, None)]


# -- directory ----------------------------------------------------------------------------------
def test_a_head_oversees_the_departments_below_theirs() -> None:
    assert headed_subtree(person(PETROV, 3), STRUCTURE) == {3, 5}
    assert headed_subtree(person(SIDOROVA, 5), STRUCTURE) == {5}
    assert headed_subtree(person(IVANOVA, 1), STRUCTURE) == {1, 3, 5, 7}
    assert headed_subtree(person(KOZLOV, 5), STRUCTURE) == set()


def test_who_sees_whom() -> None:
    kozlov, orlova = person(KOZLOV, 5), person(ORLOVA, 7)
    for viewer, dept in ((SIDOROVA, 5), (PETROV, 3), (IVANOVA, 1)):
        head = person(viewer, dept)
        assert sees(head, kozlov, headed_subtree(head, STRUCTURE))
    petrov, ivanova = person(PETROV, 3), person(IVANOVA, 1)
    assert not sees(petrov, orlova, headed_subtree(petrov, STRUCTURE))
    assert sees(ivanova, orlova, headed_subtree(ivanova, STRUCTURE))
    assert sees(person(1, admin=True), orlova, set())
    assert sees(kozlov, kozlov, set()) and not sees(kozlov, orlova, set())


def test_roles() -> None:
    heads = head_ids(STRUCTURE)
    assert [role_of(person(u), heads) for u in (IVANOVA, PETROV, SIDOROVA, KOZLOV)] == [
        "head", "head", "head", "employee"]
    assert role_of(person(KOZLOV, admin=True), heads) == "admin"
    assert role_of(person(PETROV, admin=True), heads) == "admin"


# -- handover -----------------------------------------------------------------------------------
def absence(absence_id: int, user_id: int, start_days: float, end_days: float
            ) -> SimpleNamespace:
    return SimpleNamespace(id=absence_id, user_id=user_id,
                           start=NOW + timedelta(days=start_days),
                           end=NOW + timedelta(days=end_days))


def test_which_absences_a_head_can_hand_over() -> None:
    petrovs_people = {IVANOVA, SIDOROVA, PETROV}
    running, ended = absence(1, IVANOVA, -1, 4), absence(2, SIDOROVA, -9, -5)
    own, not_his = absence(3, PETROV, 10, 14), absence(4, KOZLOV, 2, 3)

    def offered(a: SimpleNamespace, viewer: int = PETROV, people: set[int] = petrovs_people,
                live: set[int] | None = None) -> bool:
        return can_hand_over(a, viewer_id=viewer, people=people, live=live or set(), now=NOW)

    assert [offered(a) for a in (running, ended, own, not_his)] == [True, False, False, False]
    assert offered(own, viewer=IVANOVA, people={IVANOVA, PETROV, SIDOROVA, KOZLOV})
    given_back = live_absences([SimpleNamespace(absence_id=1, state="restored")])
    waiting = live_absences([SimpleNamespace(absence_id=1, state="preview")])
    assert (given_back, waiting) == (set(), {1})
    assert offered(running, live=given_back) and not offered(running, live=waiting)


# -- transfers ----------------------------------------------------------------------------------
def test_a_transfer_can_be_undone_until_its_period_ends() -> None:
    applied = NOW - timedelta(days=14)
    assert undo_deadline(applied, 14) == NOW
    assert may_undo("applied", applied, now=NOW, days=14)
    assert not may_undo("applied", applied, now=NOW + timedelta(minutes=1), days=14)
    assert not may_undo("restored", applied, now=NOW - timedelta(days=1), days=14)
    assert undo_deadline(None, 14) is None and not may_undo("preview", None, now=NOW, days=14)


def test_only_a_waiting_dismissal_is_taken_off_the_list() -> None:
    assert [may_close(s) for s in ("pending", "transferred", "closed")] == [True, False, False]

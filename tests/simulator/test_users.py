"""Users, departments and the absence chart, seen through ``sim.call`` as a REST client sees
them."""

from __future__ import annotations

from datetime import datetime

import pytest

from simulator import SimError, SimEvent, Simulator
from simulator.calendar import add_absence, delete_absence, update_absence
from simulator.calendar import tables as calendar_tables
from simulator.users import tables as users_tables
from tests.simulator.staff import ACCOUNTANT, ADMIN, HEAD, SALES, SELLER, SELLER2, add_staff


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    add_staff(sim)
    return sim


def _events(sim: Simulator) -> list[SimEvent]:
    seen: list[SimEvent] = []
    sim.bus.subscribe_after(seen.append)
    return seen


def test_user_get_pages_by_fifty_with_total_and_next(portal: Simulator) -> None:
    with portal.transaction() as ctx:
        for n in range(60):
            ctx.conn.execute(users_tables.users.insert().values(
                name=f"Temp{n}", email=f"temp{n}@demo.test", departments=[SALES],
                date_register=datetime(2026, 2, 1), fields={}))
    first = portal.call("user.get", {"sort": "ID", "order": "ASC"})
    assert (len(first["result"]), first["total"], first["next"]) == (50, 65, 50)
    second = portal.call("user.get", {"sort": "ID", "order": "ASC", "start": 50})
    assert len(second["result"]) == 15 and "next" not in second
    ids = [u["ID"] for u in first["result"] + second["result"]]
    assert len(set(ids)) == 65 and ids[0] == "1"


def test_user_get_returns_the_portal_shapes(portal: Simulator) -> None:
    user = portal.call("user.get", {"ID": SELLER})["result"][0]
    assert user["ID"] == "3" and user["ACTIVE"] is True
    assert user["UF_DEPARTMENT"] == [SALES] and user["USER_TYPE"] == "employee"
    assert user["DATE_REGISTER"] == "2026-01-12T09:00:00+03:00"  # Moscow time
    assert "password_hash" not in user and "webhook_token" not in user


@pytest.mark.parametrize(("params", "expected"), [
    ({"FILTER": {"UF_DEPARTMENT": SALES}}, {HEAD, SELLER, SELLER2}),
    ({"UF_DEPARTMENT": SALES}, {HEAD, SELLER, SELLER2}),  # top level, as in the docs' example
    ({"FILTER": {"ID": [SELLER, ACCOUNTANT]}}, {SELLER, ACCOUNTANT}),
    ({"FILTER": {"EMAIL": "olga@demo.test"}}, {ACCOUNTANT}),
    ({"FILTER": {"NAME_SEARCH": "seller"}}, {SELLER, SELLER2}),
    ({"FILTER": {"NAME_SEARCH": "sam sell"}}, {SELLER}),
    ({"FILTER": {"%LAST_NAME": "eLL"}}, {SELLER, SELLER2}),
    ({"FILTER": {"!UF_DEPARTMENT": SALES}}, {ADMIN, ACCOUNTANT}),
    ({"FILTER": {"USER_TYPE": "employee"}}, {ADMIN, HEAD, SELLER, SELLER2, ACCOUNTANT}),
    ({"FILTER": {"USER_TYPE": "extranet"}}, set()),
])
def test_user_get_filters(portal: Simulator, params: dict, expected: set[int]) -> None:
    found = {int(u["ID"]) for u in portal.call("user.get", params)["result"]}
    assert found == expected


def test_dismissed_users_are_listed_unless_active_is_asked_for(portal: Simulator) -> None:
    assert portal.call("user.update", {"ID": SELLER2, "ACTIVE": "N"}) == {"result": True}
    everyone = {u["ID"]: u["ACTIVE"] for u in portal.call("user.get", {})["result"]}
    assert everyone["4"] is False and len(everyone) == 5
    active = {u["ID"] for u in portal.call("user.get", {"FILTER": {"ACTIVE": "true"}})["result"]}
    assert "4" not in active and len(active) == 4


def test_dismissal_publishes_onuserupdate_with_before_and_after(portal: Simulator) -> None:
    seen = _events(portal)
    portal.call("user.update", {"ID": SELLER, "ACTIVE": "N"})
    updates = [e for e in seen if e.name == "ONUSERUPDATE"]
    assert len(updates) == 1
    event = updates[0]
    assert event.before is not None and event.after is not None
    assert (event.before["ACTIVE"], event.after["ACTIVE"]) == (True, False)
    assert event.data["ID"] == "3" and event.data["ACTIVE"] == "N"
    assert event.entity_id == SELLER and event.actor_id == ADMIN
    portal.call("user.update", {"ID": SELLER, "ACTIVE": "N"})  # nothing changes: no event
    assert len([e for e in seen if e.name == "ONUSERUPDATE"]) == 1


def test_only_the_administrator_changes_other_users(portal: Simulator) -> None:
    with pytest.raises(SimError) as error:
        portal.call("user.update", {"ID": SELLER, "ACTIVE": "N"}, user_id=HEAD)
    assert (error.value.code, error.value.description) == ("ERROR_CORE", "access_denied")
    with pytest.raises(SimError):
        portal.call("user.update", {"ID": SELLER, "ACTIVE": "N"}, user_id=SELLER)
    portal.call("user.update", {"ID": SELLER, "WORK_POSITION": "Senior seller"}, user_id=SELLER)
    user = portal.call("user.current", {}, user_id=SELLER)["result"]
    assert user["ACTIVE"] is True and user["WORK_POSITION"] == "Senior seller"


def test_user_add_needs_an_admin_and_publishes_onuseradd(portal: Simulator) -> None:
    with pytest.raises(SimError) as error:
        portal.call("user.add", {"EMAIL": "new@demo.test", "UF_DEPARTMENT": [SALES]},
                    user_id=HEAD)
    assert error.value.code == "ERROR_CORE"
    seen = _events(portal)
    new_id = portal.call("user.add", {"EMAIL": "new@demo.test", "NAME": "Nina",
                                      "UF_DEPARTMENT": [SALES]})["result"]
    added = [e for e in seen if e.name == "ONUSERADD"]
    assert len(added) == 1
    assert added[0].data["ID"] == str(new_id) and added[0].data["EMAIL"] == "new@demo.test"
    assert added[0].data["UF_DEPARTMENT"] == [SALES] and added[0].data["ACTIVE"] == "Y"
    with pytest.raises(SimError) as again:
        portal.call("user.add", {"EMAIL": "NEW@demo.test", "UF_DEPARTMENT": [SALES]})
    assert again.value.description == "User with this email already exists"
    with pytest.raises(SimError) as bad:
        portal.call("user.add", {"EMAIL": "not-an-address", "UF_DEPARTMENT": [SALES]})
    assert (bad.value.code, bad.value.description) == ("ERROR_ARGUMENT", "wrong_email")
    assert portal.call("user.get", {})["total"] == 6


def test_user_current_and_admin(portal: Simulator) -> None:
    assert portal.call("user.current", {}, user_id=HEAD)["result"]["EMAIL"] == "helen@demo.test"
    assert portal.call("user.admin", {})["result"] is True
    assert portal.call("user.admin", {}, user_id=HEAD)["result"] is False
    assert "UF_DEPARTMENT" in portal.call("user.fields", {})["result"]


def test_profile_describes_the_caller(portal: Simulator) -> None:
    me = portal.call("profile", {}, user_id=SELLER)["result"]
    assert me == {"ID": "3", "ADMIN": False, "NAME": "Sam", "LAST_NAME": "Seller",
                  "PERSONAL_GENDER": "", "TIME_ZONE": "", "TIME_ZONE_OFFSET": 0}


def test_department_get_shapes_and_filters(portal: Simulator) -> None:
    departments = portal.call("department.get", {})
    assert departments["total"] == 3
    root, sales, accounting = departments["result"]
    assert root == {"ID": "1", "NAME": "Company", "SORT": 500, "UF_HEAD": "1"}
    assert sales == {"ID": "2", "NAME": "Sales", "SORT": 500, "PARENT": "1", "UF_HEAD": "2"}
    assert "UF_HEAD" not in accounting
    only = portal.call("department.get", {"PARENT": 1, "sort": "NAME", "order": "DESC"})
    assert [d["NAME"] for d in only["result"]] == ["Sales", "Accounting"]


def test_department_changes_follow_the_portal_rules(portal: Simulator) -> None:
    with pytest.raises(SimError) as second_root:
        portal.call("department.add", {"NAME": "Another company"})
    assert second_root.value.description.startswith("There can only be one top-level")
    with pytest.raises(SimError) as nameless:
        portal.call("department.add", {"NAME": "", "PARENT": SALES})
    assert nameless.value.description == "The department name is not provided.<br>"
    with pytest.raises(SimError):
        portal.call("department.add", {"NAME": "Field team", "PARENT": SALES}, user_id=HEAD)
    team = portal.call("department.add", {"NAME": "Field team", "PARENT": SALES,
                                          "UF_HEAD": SELLER})["result"]
    portal.call("department.update", {"ID": team, "NAME": "Field sales", "UF_HEAD": ""})
    renamed = portal.call("department.get", {"ID": team})["result"][0]
    assert renamed == {"ID": str(team), "NAME": "Field sales", "SORT": 500, "PARENT": "2"}
    with pytest.raises(SimError) as cycle:
        portal.call("department.update", {"ID": SALES, "PARENT": team})
    assert cycle.value.code == "ERROR_CORE"
    with pytest.raises(SimError) as busy:
        portal.call("department.delete", {"ID": SALES})
    assert "sub-departments or employees" in busy.value.description
    assert portal.call("department.delete", {"ID": team}) == {"result": True}
    with pytest.raises(SimError) as gone:
        portal.call("department.delete", {"ID": team})
    assert gone.value.description == "Department not found"


def test_absence_chart_is_visible_through_calendar_accessibility(portal: Simulator) -> None:
    seen = _events(portal)
    with portal.transaction() as ctx:
        absence = add_absence(ctx, SELLER, "2026-03-10", "2026-03-14", "VACATION", "Sea")
    answer = portal.call("calendar.accessibility.get", {
        "users": [SELLER, HEAD], "from": "2026-03-01", "to": "2026-03-31"})["result"]
    assert answer["2"] == []
    (entry,) = answer["3"]
    assert entry["ID"] == str(absence) and entry["NAME"] == "Sea"
    assert entry["ACCESSIBILITY"] == "absent" and entry["DT_SKIP_TIME"] == "Y"
    assert (entry["DATE_FROM"], entry["DATE_TO"]) == ("10.03.2026 00:00:00", "14.03.2026 23:59:59")
    outside = portal.call("calendar.accessibility.get", {
        "users": [SELLER], "from": "2026-03-15", "to": "2026-03-31"})["result"]
    assert outside == {"3": []}
    names = [e.name for e in seen]
    assert names == ["ONABSENCEADD", "ONCALENDARENTRYADD"]
    assert seen[1].data == {"id": str(absence)}
    assert seen[0].after is not None and seen[0].after["ABSENCE_TYPE"] == "VACATION"


def test_absence_updates_and_deletions_are_published(portal: Simulator) -> None:
    with portal.transaction() as ctx:
        absence = add_absence(ctx, SELLER, "2026-03-10", "2026-03-14", "LEAVESICK", "")
    seen = _events(portal)
    with portal.transaction() as ctx:
        assert update_absence(ctx, absence, date_to="2026-03-20") is True
        assert update_absence(ctx, absence, date_to="2026-03-20") is False
        delete_absence(ctx, absence)
    assert [e.name for e in seen] == ["ONABSENCEUPDATE", "ONCALENDARENTRYUPDATE",
                                      "ONABSENCEDELETE", "ONCALENDARENTRYDELETE"]
    assert seen[0].before is not None and seen[0].after is not None
    assert seen[0].before["DATE_TO"] < seen[0].after["DATE_TO"]
    answer = portal.call("calendar.accessibility.get", {
        "users": [SELLER], "from": "2026-03-01", "to": "2026-03-31"})["result"]
    assert answer == {"3": []}


def test_bad_absences_and_bad_requests_are_refused(portal: Simulator) -> None:
    with portal.transaction() as ctx, pytest.raises(SimError):
        add_absence(ctx, SELLER, "2026-03-10", "2026-03-01", "VACATION", "")
    with portal.transaction() as ctx, pytest.raises(SimError):
        add_absence(ctx, SELLER, "2026-03-10", "2026-03-11", "HOLIDAYS", "")
    with pytest.raises(SimError) as missing:
        portal.call("calendar.accessibility.get", {"users": [SELLER], "to": "2026-03-31"})
    assert missing.value.description == ('The required parameter "from" for the method '
                                         '"calendar.accessibility.get" is not set')
    with portal.engine.connect() as conn:
        assert conn.execute(calendar_tables.absences.select()).first() is None


def test_calendar_settings_answer_the_stored_working_calendar(portal: Simulator) -> None:
    answer = portal.call("calendar.settings.get")["result"]
    assert (answer["work_time_start"], answer["work_time_end"]) == ("9", "19")
    assert answer["week_holidays"] == ["SA", "SU"] and answer["week_start"] == "MO"
    assert answer["year_holidays"].split(",")[:2] == ["1.01", "2.01"]
    assert answer["year_workdays"] == "31.12"
    portal.settings.set("calendar_settings", {"work_time_start": "8.30",
                                              "work_time_end": "17", "week_holidays": ["SU"],
                                              "year_holidays": "1.05,9.05"})
    changed = portal.call("calendar.settings.get")["result"]
    assert (changed["work_time_start"], changed["work_time_end"]) == ("8.30", "17")
    assert (changed["week_holidays"], changed["year_holidays"]) == (["SU"], "1.05,9.05")
    assert changed["week_start"] == "MO"  # not stored: the portal's default
    in_batch = portal.call("batch", {"cmd": {"c": "calendar.settings.get"}})["result"]
    assert in_batch["result"]["c"] == changed

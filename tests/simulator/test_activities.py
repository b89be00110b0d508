"""CRM activities through crm.activity.* as a portal client sees them."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import Simulator, Veto
from simulator.crm import tables as crm_tables
from tests.simulator.crm_helpers import (
    add_people,
    captured_events,
    count_rows,
    error_of,
    notifications,
    result,
)


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    add_people(sim)
    return sim


@pytest.fixture
def deal(portal: Simulator) -> int:
    return int(result(portal, "crm.deal.add", {"fields": {"TITLE": "Pumps",
                                                          "ASSIGNED_BY_ID": 2}}))


@pytest.fixture
def contact(portal: Simulator) -> int:
    return int(result(portal, "crm.contact.add", {"fields": {"NAME": "Olga"}}))


def call_fields(deal: int, **extra: Any) -> dict[str, Any]:
    return {"OWNER_TYPE_ID": 2, "OWNER_ID": deal, "TYPE_ID": 2, "SUBJECT": "Call Olga",
            "RESPONSIBLE_ID": 3, "DIRECTION": 2,
            "COMMUNICATIONS": [{"VALUE": "+79001234567"}], **extra}


def test_call_round_trip(portal: Simulator, deal: int) -> None:
    activity_id = result(portal, "crm.activity.add", {"fields": call_fields(
        deal, START_TIME="2026-03-02T10:00:00+03:00", END_TIME="2026-03-02T10:15:00+03:00",
        SETTINGS={"CALL_FAILED_CODE": "304"})})
    got = result(portal, "crm.activity.get", {"id": activity_id})
    assert got["ID"] == str(activity_id) and got["TYPE_ID"] == "2"
    assert (got["OWNER_TYPE_ID"], got["OWNER_ID"]) == ("2", str(deal))
    assert got["RESPONSIBLE_ID"] == "3" and got["AUTHOR_ID"] == "1"
    assert got["COMPLETED"] == "N" and got["STATUS"] == "1" and got["DIRECTION"] == "2"
    assert got["PROVIDER_ID"] == "VOXIMPLANT_CALL"
    assert got["START_TIME"] == "2026-03-02T10:00:00+03:00"
    assert got["DEADLINE"] == got["START_TIME"]  # calls: the deadline is the start
    assert got["SETTINGS"] == {"CALL_FAILED_CODE": "304"}
    assert got["COMMUNICATIONS"] == [{"VALUE": "+79001234567", "ENTITY_ID": deal,
                                      "ENTITY_TYPE_ID": 2, "TYPE": "PHONE"}]
    assert "BINDINGS" not in got
    assert result(portal, "crm.activity.update", {"id": activity_id, "fields": {
        "COMPLETED": "Y", "OWNER_ID": 999, "TYPE_ID": 4}}) is True
    got = result(portal, "crm.activity.get", {"id": activity_id})
    assert got["COMPLETED"] == "Y" and got["STATUS"] == "2"
    assert got["OWNER_ID"] == str(deal) and got["TYPE_ID"] == "2"  # immutable
    assert result(portal, "crm.activity.delete", {"id": activity_id}) is True
    gone = error_of(portal, "crm.activity.get", {"id": activity_id})
    assert (gone.code, gone.description, gone.status) == ("", "Not found", 400)


def test_task_deadline_follows_end_time(portal: Simulator, deal: int) -> None:
    activity_id = result(portal, "crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": deal, "TYPE_ID": 6, "SUBJECT": "Send offer",
        "RESPONSIBLE_ID": 2, "START_TIME": "2026-03-02T09:00:00+03:00",
        "END_TIME": "2026-03-04T18:00:00+03:00", "DEADLINE": "2030-01-01T00:00:00+03:00"}})
    got = result(portal, "crm.activity.get", {"id": activity_id})
    assert got["DEADLINE"] == "2026-03-04T18:00:00+03:00"
    assert got["PROVIDER_ID"] == "CRM_TODO"


def test_email_deadline_is_its_start_time(portal: Simulator, deal: int) -> None:
    activity_id = result(portal, "crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": deal, "TYPE_ID": 4, "SUBJECT": "Offer", "DIRECTION": 2,
        "RESPONSIBLE_ID": 2, "COMMUNICATIONS": [{"VALUE": "olga@example.com"}],
        "START_TIME": "2026-03-02T09:00:00+03:00", "END_TIME": "2026-03-02T09:05:00+03:00"}})
    got = result(portal, "crm.activity.get", {"id": activity_id})
    assert got["DEADLINE"] == got["START_TIME"] == "2026-03-02T09:00:00+03:00"
    # as seeded e-mails have it (test_generator)


def test_an_update_that_changes_nothing_publishes_nothing(portal: Simulator, deal: int) -> None:
    activity_id = result(portal, "crm.activity.add", {"fields": call_fields(
        deal, START_TIME="2026-03-02T10:00:00+03:00")})
    before = result(portal, "crm.activity.get", {"id": activity_id})
    portal.clock.set(portal.clock.now())
    portal.clock.advance(3600)  # a written change would show a later LAST_UPDATED
    with captured_events(portal) as seen:
        assert result(portal, "crm.activity.update", {"id": activity_id, "fields": {
            "SUBJECT": "Call Olga", "START_TIME": "2026-03-02T10:00:00+03:00"}},
            user_id=2) is True
    assert seen == []
    assert result(portal, "crm.activity.get", {"id": activity_id}) == before  # LAST_UPDATED too
    with captured_events(portal) as seen:
        result(portal, "crm.activity.update", {"id": activity_id, "fields": {"SUBJECT": "New"}})
    assert [e.name for e in seen] == ["ONCRMACTIVITYUPDATE"]


@pytest.mark.parametrize(("missing", "field"), [
    ("SUBJECT", "SUBJECT"), ("RESPONSIBLE_ID", "RESPONSIBLE_ID"), ("OWNER_ID", "OWNER_ID"),
    ("OWNER_TYPE_ID", "OWNER_TYPE_ID"), ("COMMUNICATIONS", "COMMUNICATIONS"),
])
def test_required_fields(portal: Simulator, deal: int, missing: str, field: str) -> None:
    fields = call_fields(deal)
    del fields[missing]
    error = error_of(portal, "crm.activity.add", {"fields": fields})
    assert error.description == f"The field {field} is not defined or invalid"
    assert count_rows(portal, crm_tables.activities) == 0


@pytest.mark.parametrize(("extra", "word"), [
    ({"RESPONSIBLE_ID": 99}, "RESPONSIBLE_ID"), ({"TYPE_ID": 42}, "TYPE_ID"),
    ({"COMPLETED": "perhaps"}, "COMPLETED"), ({"START_TIME": "tomorrow-ish"}, "START_TIME"),
    ({"OWNER_ID": 999}, "binding"),
])
def test_bad_values_change_nothing(portal: Simulator, deal: int, extra: dict[str, Any],
                                   word: str) -> None:
    with captured_events(portal) as events:
        error = error_of(portal, "crm.activity.add", {"fields": call_fields(deal, **extra)})
    assert error.status == 400 and word in error.description
    assert (count_rows(portal, crm_tables.activities) == 0
            and count_rows(portal, crm_tables.activity_bindings) == 0)
    assert events == []


def test_list_defaults_to_start_time_and_filters(portal: Simulator, deal: int) -> None:
    other = result(portal, "crm.deal.add", {"fields": {"TITLE": "Other"}})
    plan = [("Late", deal, "2026-03-05T10:00:00", "N"), ("Early", deal, "2026-03-01T10:00:00",
                                                          "Y"),
            ("Middle", other, "2026-03-03T10:00:00", "N")]
    for subject, owner, start, completed in plan:
        result(portal, "crm.activity.add", {"fields": call_fields(
            owner, SUBJECT=subject, START_TIME=start, COMPLETED=completed)})
    page = portal.call("crm.activity.list", {"select": ["SUBJECT"]})
    assert [a["SUBJECT"] for a in page["result"]] == ["Early", "Middle", "Late"]
    assert page["total"] == 3
    open_on_deal = result(portal, "crm.activity.list", {"filter": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": deal, "COMPLETED": "N"}, "select": ["SUBJECT"]})
    assert [a["SUBJECT"] for a in open_on_deal] == ["Late"]
    newest_first = result(portal, "crm.activity.list", {"order": {"START_TIME": "DESC"},
                                                         "filter": {"RESPONSIBLE_ID": 3,
                                                                    "TYPE_ID": 2,
                                                                    "DIRECTION": 2}})
    assert [a["SUBJECT"] for a in newest_first] == ["Late", "Middle", "Early"]


def test_communications_bind_the_contact_and_select_shows_them(portal: Simulator, deal: int,
                                                               contact: int) -> None:
    activity_id = result(portal, "crm.activity.add", {"fields": call_fields(
        deal, COMMUNICATIONS=[{"VALUE": "+7900", "ENTITY_TYPE_ID": 3, "ENTITY_ID": contact}])})
    found = result(portal, "crm.activity.list", {
        "filter": {"BINDINGS": [{"OWNER_TYPE_ID": 3, "OWNER_ID": contact}]},
        "select": ["ID", "COMMUNICATIONS", "BINDINGS"]})
    assert len(found) == 1 and found[0]["ID"] == str(activity_id)
    assert found[0]["COMMUNICATIONS"] == [{"VALUE": "+7900", "ENTITY_ID": contact,
                                           "ENTITY_TYPE_ID": 3, "TYPE": "PHONE"}]
    assert found[0]["BINDINGS"] == [{"OWNER_TYPE_ID": "2", "OWNER_ID": str(deal)},
                                    {"OWNER_TYPE_ID": "3", "OWNER_ID": str(contact)}]
    # The owner filter looks at the owner only.
    assert result(portal, "crm.activity.list", {"filter": {"OWNER_TYPE_ID": 3}}) == []
    contact_after = result(portal, "crm.contact.get", {"id": contact})
    assert contact_after["LAST_COMMUNICATION_TIME"] and contact_after["LAST_ACTIVITY_BY"] == "1"


def test_get_answers_the_communications_as_the_list_does(portal: Simulator, deal: int,
                                                         contact: int) -> None:
    activity_id = result(portal, "crm.activity.add", {"fields": call_fields(
        deal, COMMUNICATIONS=[{"VALUE": "+7900", "ENTITY_TYPE_ID": 3, "ENTITY_ID": contact}])})
    got = result(portal, "crm.activity.get", {"id": activity_id})
    listed = result(portal, "crm.activity.list", {"filter": {"ID": activity_id},
                                                  "select": ["*", "COMMUNICATIONS"]})
    assert got["COMMUNICATIONS"] == listed[0]["COMMUNICATIONS"] == [
        {"VALUE": "+7900", "ENTITY_ID": contact, "ENTITY_TYPE_ID": 3, "TYPE": "PHONE"}]
    assert got == listed[0]  # the rest of the activity is the same too
    batch = result(portal, "batch", {"cmd": {"a": f"crm.activity.get?id={activity_id}"}})
    assert batch["result"]["a"]["COMMUNICATIONS"] == got["COMMUNICATIONS"]


def test_binding_methods(portal: Simulator, deal: int, contact: int) -> None:
    activity_id = result(portal, "crm.activity.add", {"fields": call_fields(deal)})
    assert result(portal, "crm.activity.binding.add", {
        "activityId": activity_id, "entityTypeId": 3, "entityId": contact}) is True
    again = error_of(portal, "crm.activity.binding.add", {
        "activityId": activity_id, "entityTypeId": 3, "entityId": contact})
    assert again.code == "ACTIVITY_IS_ALREADY_BOUND"
    nowhere = error_of(portal, "crm.activity.binding.add", {
        "activityId": activity_id, "entityTypeId": 3, "entityId": 99999})
    assert nowhere.code == "OWNER_NOT_FOUND"
    assert result(portal, "crm.activity.binding.list", {"activityId": activity_id}) == [
        {"entityTypeId": 2, "entityId": deal}, {"entityTypeId": 3, "entityId": contact}]
    assert result(portal, "crm.activity.binding.delete", {
        "activityId": activity_id, "entityTypeId": 3, "entityId": contact}) is True
    last = error_of(portal, "crm.activity.binding.delete", {
        "activityId": activity_id, "entityTypeId": 2, "entityId": deal})
    assert last.code == "LAST_BINDING_CANNOT_BE_DELETED"
    assert error_of(portal, "crm.activity.binding.list", {"activityId": 555}).code == \
        "NOT_FOUND"


def test_events_carry_before_and_after(portal: Simulator, deal: int) -> None:
    with captured_events(portal) as events:
        activity_id = result(portal, "crm.activity.add", {"fields": call_fields(deal)})
        result(portal, "crm.activity.update", {"id": activity_id, "fields": {"SUBJECT": "New"}})
        result(portal, "crm.activity.delete", {"id": activity_id})
    mine = [e for e in events if e.entity_type == "ACTIVITY"]
    assert [e.name for e in mine] == ["ONCRMACTIVITYADD", "ONCRMACTIVITYUPDATE",
                                      "ONCRMACTIVITYDELETE"]
    assert mine[0].before is None and mine[0].after["SUBJECT"] == "Call Olga"
    assert mine[0].after["BINDINGS"] == [{"OWNER_TYPE_ID": "2", "OWNER_ID": str(deal)}]
    assert mine[1].before["SUBJECT"] == "Call Olga" and mine[1].after["SUBJECT"] == "New"
    assert mine[2].before["SUBJECT"] == "New" and mine[2].after is None


def test_veto_keeps_the_activity(portal: Simulator, deal: int) -> None:
    activity_id = result(portal, "crm.activity.add", {"fields": call_fields(deal)})

    def refuse(event: Any) -> None:
        if event.name == "ONBEFORECRMACTIVITYUPDATE" and event.after["RESPONSIBLE_ID"] == "4":
            raise Veto("Gleb has left the company")

    portal.bus.subscribe_before(refuse)
    error = error_of(portal, "crm.activity.update", {"id": activity_id,
                                                     "fields": {"RESPONSIBLE_ID": 4}})
    assert (error.code, error.description) == ("", "Gleb has left the company")
    assert result(portal, "crm.activity.get", {"id": activity_id})["RESPONSIBLE_ID"] == "3"


def test_incoming_email_notifies_the_items_responsible(portal: Simulator, deal: int) -> None:
    before = len(notifications(portal, 2))
    result(portal, "crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": deal, "TYPE_ID": 4, "DIRECTION": 1,
        "SUBJECT": "Price request", "RESPONSIBLE_ID": 3,
        "COMMUNICATIONS": [{"VALUE": "buyer@example.com"}]}})
    inbox = notifications(portal, 2)
    assert len(inbox) == before + 1
    notice = inbox[-1]
    assert (notice.kind, notice.entity_type, notice.entity_id) == ("email_incoming", "DEAL",
                                                                   deal)
    assert "Price request" in notice.message and "buyer@example.com" in notice.message
    # Outgoing e-mail and a new activity responsible get no notice.
    result(portal, "crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": deal, "TYPE_ID": 4, "DIRECTION": 2,
        "SUBJECT": "Offer", "RESPONSIBLE_ID": 3, "COMMUNICATIONS": [{"VALUE": "b@example.com"}]}})
    assert len(notifications(portal, 2)) == before + 1
    assert notifications(portal, 3) == []


def test_fields_and_deleting_the_owner_removes_its_activities(portal: Simulator,
                                                               deal: int) -> None:
    described = result(portal, "crm.activity.fields")
    assert described["OWNER_ID"]["isImmutable"] is True
    assert described["DEADLINE"]["isReadOnly"] is True
    assert described["BINDINGS"]["isMultiple"] is True
    activity_id = result(portal, "crm.activity.add", {"fields": call_fields(deal)})
    with captured_events(portal) as events:
        result(portal, "crm.deal.delete", {"id": deal})
    assert (count_rows(portal, crm_tables.activities) == 0
            and count_rows(portal, crm_tables.activity_bindings) == 0)
    assert [(e.name, e.entity_id) for e in events] == [("ONCRMDEALDELETE", deal),
                                                       ("ONCRMACTIVITYDELETE", activity_id)]
    assert events[1].before["SUBJECT"] == "Call Olga"

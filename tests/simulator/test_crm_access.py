"""Who may read and change which CRM items and activities, as a person calling the portal with
their own token sees it: their own items, those of everyone below them in the structure, and
read-only what an administrator granted them."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import Simulator, oauth
from simulator.crm import tables as crm_tables
from simulator.users import tables as users_tables
from simulator.web import create_app
from tests.simulator.crm_helpers import count_rows, error_of, result
from tests.simulator.staff import ACCOUNTANT, ADMIN, HEAD, SALES, SELLER, SELLER2, add_staff

KEY = 6  # in "Key accounts", a department below Sales, so HEAD is above her too
OWNERS = (ADMIN, HEAD, SELLER, SELLER2, ACCOUNTANT, KEY)


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    add_staff(sim)
    with sim.transaction() as ctx:
        ctx.conn.execute(users_tables.departments.insert().values(
            id=4, name="Key accounts", sort=500, parent=SALES, head=None))
        ctx.conn.execute(users_tables.users.insert().values(
            id=KEY, name="Kira", last_name="Key", email="kira@demo.test", departments=[4],
            is_admin=False, active=True, date_register=ctx.now, work_position="", fields={}))
    return sim


@pytest.fixture
def leads(portal: Simulator) -> dict[int, int]:
    """One lead per person, added by the administrator: owner -> lead id."""
    return {owner: result(portal, "crm.lead.add", {"fields": {
        "TITLE": f"Lead of {owner}", "ASSIGNED_BY_ID": owner}}) for owner in OWNERS}


def visible_leads(sim: Simulator, user_id: int) -> list[int]:
    return sorted(int(lead["ID"]) for lead in result(sim, "crm.lead.list", {}, user_id=user_id))


def test_lists_show_only_what_the_caller_may_read(portal: Simulator,
                                                  leads: dict[int, int]) -> None:
    assert visible_leads(portal, SELLER) == [leads[SELLER]]
    assert visible_leads(portal, ACCOUNTANT) == [leads[ACCOUNTANT]]
    # the head of Sales sees Sales and the department below it, not Accounting or the admin
    assert visible_leads(portal, HEAD) == sorted(leads[u] for u in (HEAD, SELLER, SELLER2, KEY))
    assert visible_leads(portal, ADMIN) == sorted(leads.values())
    page = portal.call("crm.item.list", {"entityTypeId": 1, "select": ["id"]}, user_id=SELLER)
    assert page["total"] == 1 and page["result"]["items"] == [{"id": leads[SELLER],
                                                                "entityTypeId": 1}]
    # a filter cannot reach past the rights
    assert result(portal, "crm.lead.list", {"filter": {"ID": leads[SELLER2]}},
                  user_id=SELLER) == []


def test_reading_or_changing_someone_elses_item_is_access_denied(
        portal: Simulator, leads: dict[int, int]) -> None:
    other = leads[SELLER2]
    for method, params, code, text in (
            ("crm.lead.get", {"id": other}, "", "Access denied"),
            ("crm.lead.update", {"id": other, "fields": {"TITLE": "Mine now"}}, "",
             "Access denied"),
            ("crm.lead.delete", {"id": other}, "", "Access denied"),
            ("crm.item.get", {"entityTypeId": 1, "id": other}, "ACCESS_DENIED",
             "You do not have permission to view this item"),
            ("crm.item.update", {"entityTypeId": 1, "id": other, "fields": {"title": "Mine"}},
             "ACCESS_DENIED", "Access denied"),
            ("crm.item.delete", {"entityTypeId": 1, "id": other}, "ACCESS_DENIED",
             "Access denied")):
        error = error_of(portal, method, params, user_id=SELLER)
        assert (error.code, error.description, error.status) == (code, text, 400), method
    assert result(portal, "crm.lead.get", {"id": other})["TITLE"] == f"Lead of {SELLER2}"
    assert error_of(portal, "crm.lead.get", {"id": 999999}, user_id=SELLER).description == \
        "Not found"
    assert result(portal, "crm.lead.update", {"id": leads[SELLER], "fields": {
        "TITLE": "Called back"}}, user_id=SELLER) is True
    assert result(portal, "crm.lead.update", {"id": leads[KEY], "fields": {
        "TITLE": "Checked by the head"}}, user_id=HEAD) is True
    assert error_of(portal, "crm.lead.update", {"id": leads[HEAD], "fields": {
        "TITLE": "x"}}, user_id=KEY).description == "Access denied"


def test_a_grant_adds_read_only_access_until_revoked(portal: Simulator,
                                                     leads: dict[int, int]) -> None:
    grant = {"USER_ID": SELLER, "OWNER_ID": ACCOUNTANT}
    assert result(portal, "crm.access.grant", grant) is True
    assert visible_leads(portal, SELLER) == sorted([leads[SELLER], leads[ACCOUNTANT]])
    got = result(portal, "crm.lead.get", {"id": leads[ACCOUNTANT]}, user_id=SELLER)
    assert got["TITLE"] == f"Lead of {ACCOUNTANT}"
    assert error_of(portal, "crm.lead.update", {"id": leads[ACCOUNTANT], "fields": {
        "TITLE": "x"}}, user_id=SELLER).description == "Access denied"
    assert result(portal, "crm.access.revoke", grant) is True
    assert visible_leads(portal, SELLER) == [leads[SELLER]]


def test_activities_follow_their_owner_item_or_their_responsible(
        portal: Simulator, leads: dict[int, int]) -> None:
    def meeting(owner_lead: int, responsible: int) -> int:
        return int(result(portal, "crm.activity.add", {"fields": {
            "OWNER_TYPE_ID": 1, "OWNER_ID": owner_lead, "TYPE_ID": 1, "SUBJECT": "Meeting",
            "RESPONSIBLE_ID": responsible}}))

    mine = meeting(leads[SELLER2], SELLER)  # Sam is responsible, the lead is Sofia's
    on_my_lead = meeting(leads[SELLER], SELLER2)
    elsewhere = meeting(leads[ACCOUNTANT], ACCOUNTANT)
    listed = portal.call("crm.activity.list", {"select": ["ID"]}, user_id=SELLER)
    assert listed["total"] == 2
    assert sorted(int(a["ID"]) for a in listed["result"]) == sorted([mine, on_my_lead])
    head_sees = result(portal, "crm.activity.list", {"select": ["ID"]}, user_id=HEAD)
    assert sorted(int(a["ID"]) for a in head_sees) == sorted([mine, on_my_lead])
    denied = error_of(portal, "crm.activity.get", {"id": elsewhere}, user_id=SELLER)
    assert (denied.code, denied.description) == ("", "Access denied")
    assert error_of(portal, "crm.activity.update", {"id": elsewhere, "fields": {
        "SUBJECT": "x"}}, user_id=SELLER).description == "Access denied"
    assert error_of(portal, "crm.activity.binding.list", {"activityId": elsewhere},
                    user_id=SELLER).code == "ACCESS_DENIED"
    assert result(portal, "crm.activity.update", {"id": mine, "fields": {
        "SUBJECT": "Meeting moved"}}, user_id=SELLER) is True
    before = count_rows(portal, crm_tables.activities)
    refused = error_of(portal, "crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 1, "OWNER_ID": leads[ACCOUNTANT], "TYPE_ID": 1, "SUBJECT": "Sneak",
        "RESPONSIBLE_ID": SELLER}}, user_id=SELLER)
    assert refused.description == "Access denied"
    assert count_rows(portal, crm_tables.activities) == before


def test_rights_apply_to_a_persons_own_oauth_token(portal: Simulator,
                                                   leads: dict[int, int]) -> None:
    oauth.register_app(portal, "app", "secret", "http://app.test/callback")
    code = oauth.issue_code(portal, "app", SELLER)
    token: dict[str, Any] = oauth.exchange_code(portal, client_id="app", client_secret="secret",
                                                code=code, base_url="http://127.0.0.1")
    client = create_app(portal).test_client()
    listed = client.post("/rest/crm.lead.list", json={"auth": token["access_token"]})
    assert [lead["ID"] for lead in listed.get_json()["result"]] == [str(leads[SELLER])]
    denied = client.post("/rest/crm.item.get", json={
        "auth": token["access_token"], "entityTypeId": 1, "id": leads[SELLER2]})
    assert denied.status_code == 400
    assert denied.get_json() == {"error": "ACCESS_DENIED",
                                 "error_description": "You do not have permission to view "
                                                      "this item"}
    webhook = client.post("/rest/1/testtoken/crm.lead.list", json={})  # the administrator
    assert webhook.get_json()["total"] == len(OWNERS)

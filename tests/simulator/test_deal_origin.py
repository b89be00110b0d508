"""Deals created from outside: ORIGINATOR_ID/ORIGIN_ID are kept and filterable, crm.item deals
take observers and the lead, and a lead moves to CONVERTED."""

from __future__ import annotations

import pytest

from simulator import Simulator
from tests.simulator.crm_helpers import result


@pytest.fixture
def portal(demo_sim: Simulator) -> Simulator:
    return demo_sim


def test_origin_fields_observers_and_lead(portal: Simulator) -> None:
    lead_id = result(portal, "crm.lead.add", {"fields": {"TITLE": "Visited"}})
    item = result(portal, "crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "From a visit", "categoryId": 1, "stageId": "C1:NEW", "assignedById": 2,
        "observers": [3], "leadId": lead_id, "originatorId": "app", "originId": "visit-1-2"}})
    item = item["item"]
    assert item["observers"] == [3] and item["leadId"] == lead_id
    assert item["originatorId"] == "app" and item["originId"] == "visit-1-2"
    found = result(portal, "crm.deal.list", {"filter": {"ORIGINATOR_ID": "app",
                                                        "ORIGIN_ID": "visit-1-2"},
                                             "select": ["ID", "CATEGORY_ID", "STAGE_ID"]})
    assert [(int(d["ID"]), d["CATEGORY_ID"], d["STAGE_ID"]) for d in found] == [
        (item["id"], "1", "C1:NEW")]
    assert result(portal, "crm.deal.list", {"filter": {"ORIGIN_ID": "visit-1-3"}}) == []
    categories = result(portal, "crm.category.list", {"entityTypeId": 2})["categories"]
    assert {c["id"] for c in categories} >= {0, 1}
    result(portal, "crm.lead.update", {"id": lead_id, "fields": {"STATUS_ID": "CONVERTED"}})
    assert result(portal, "crm.lead.get", {"id": lead_id})["STATUS_ID"] == "CONVERTED"

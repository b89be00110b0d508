"""Helpers of the lead distribution tests: the demo's departments as service lines."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from simulator import Simulator

EQUIPMENT, CONTAINERS, MARKETING = 3, 4, 5  # demo departments
EQUIPMENT_PEOPLE, CONTAINER_PEOPLE, MARKETING_PEOPLE = (5, 6, 7), (9, 10), (11, 12)
LINES = [
    {"name": "Equipment", "department_id": EQUIPMENT, "category_id": 0, "stage_id": "NEW"},
    {"name": "Containers", "department_id": CONTAINERS, "category_id": 1,
     "stage_id": "C1:NEW"},
    {"name": "Promotion", "department_id": MARKETING, "category_id": 0, "stage_id": "NEW"},
]


def set_up_lines(client: FlaskClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    response = client.put("/api/v1/service-lines", json={"lines": LINES}, headers=admin)
    assert response.status_code == 200, response.get_json()
    lines: list[dict[str, Any]] = response.get_json()["lines"]
    return lines


def new_lead(sim: Simulator, title: str = "Visited client") -> int:
    company = sim.call("crm.company.add", {"fields": {"TITLE": f"{title} Ltd",
                                                     "UF_CRM_CATEGORY": "3"}})["result"]
    contact = sim.call("crm.contact.add", {"fields": {"NAME": "Anna"}})["result"]
    lead: int = sim.call("crm.lead.add", {"fields": {
        "TITLE": title, "STATUS_ID": "NEW", "COMPANY_ID": company,
        "CONTACT_ID": contact}})["result"]
    return lead


def portal_deals(sim: Simulator, report_id: int) -> list[dict[str, Any]]:
    found = []
    for line in range(1, 50):
        rows = sim.call("crm.deal.list", {"filter": {
            "ORIGINATOR_ID": "portal_ext.distribution",
            "ORIGIN_ID": f"visit-{report_id}-{line}"},
            "select": ["ID", "CATEGORY_ID", "STAGE_ID", "ASSIGNED_BY_ID"]})["result"]
        found.extend(rows)
    return found

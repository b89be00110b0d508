"""Lead distribution pages: the visit report form, its outcome in words, the settings; who may
open what."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from simulator import Simulator
from tests.ext.distribution_support import new_lead, set_up_lines

pytestmark = pytest.mark.dated
ADMIN_EMAIL, EMPLOYEE_EMAIL = "admin@demo.portal", "a.fedorov@demo.portal"


def test_a_report_filed_on_the_page_explains_each_pick(
        client: FlaskClient, admin: dict[str, str], demo_sim: Simulator, login_as: Any) -> None:
    lines = set_up_lines(client, admin)
    client.put("/api/v1/distribution/settings", headers=admin,
               json={"default_strategy": "least_loaded"})
    lead = new_lead(demo_sim)
    login_as(client, ADMIN_EMAIL)
    form = client.get(f"/distribution/reports/new?lead_id={lead}").get_data(as_text=True)
    assert 'id="visit-report-form"' in form and "Containers" in form
    # The client as the lead has it, editable: the edit is what the portal gets.
    assert 'name="company" type="text" value="Visited client Ltd"' in form
    assert 'name="contact" type="text" value="Anna"' in form
    sent = client.post("/distribution/reports/new", data={
        "lead_id": lead, "lines": [lines[0]["id"], lines[1]["id"]], "comment": "Two needs",
        "company": "Visited client Group", "contact": "Anna", "phone": "", "email": ""})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert 'data-state="done"' in page and 'id="main-manager"' in page
    assert "open deals" in page or "открытых сделок" in page
    company = demo_sim.call("crm.lead.get", {"id": lead})["result"]["COMPANY_ID"]
    assert demo_sim.call("crm.company.get", {"id": company})["result"]["TITLE"] == \
        "Visited client Group"
    again = client.post("/distribution/reports/new", data={
        "lead_id": lead, "lines": [lines[0]["id"]]})
    assert again.headers["Location"] == sent.headers["Location"]
    empty = client.post("/distribution/reports/new", data={"lead_id": new_lead(demo_sim)})
    assert empty.status_code == 200 and 'class="errors"' in empty.get_data(as_text=True)


def test_settings_page_saves_and_only_admins_open_it(
        app: Any, client: FlaskClient, login_as: Any) -> None:
    login_as(client, ADMIN_EMAIL)
    assert client.get("/distribution/settings").status_code == 200
    saved = client.post("/distribution/settings", data={
        "default_strategy": "round_robin", "main_strategy": "least_loaded",
        "default_quota": "2", "representative_ids": "7", "control_task_days": "4"})
    assert saved.status_code == 302
    page = client.get("/distribution/settings").get_data(as_text=True)
    assert 'value="round_robin" selected' in page or "selected" in page
    other = app.test_client()
    login_as(other, EMPLOYEE_EMAIL)
    assert other.get("/distribution/settings").status_code == 403
    assert other.get("/distribution/reports/new").status_code == 403


def test_the_report_counts_deals_per_manager(
        client: FlaskClient, admin: dict[str, str], demo_sim: Simulator, login_as: Any,
        test_clock: Any) -> None:
    lines = set_up_lines(client, admin)
    client.put("/api/v1/distribution/settings", headers=admin,
               json={"default_strategy": "round_robin"})
    for n in range(3):
        client.post("/api/v1/visit-reports", headers=admin, json={
            "lead_id": new_lead(demo_sim, f"Lead {n}"), "lines": [lines[1]["id"]]})
    login_as(client, ADMIN_EMAIL)
    page = client.get("/distribution/report").get_data(as_text=True)
    counts = dict(re.findall(r'data-user="(\d+)"><td>[^<]*</td><td>[^<]*</td><td>(\d+)</td>',
                             page))
    assert counts == {"9": "2", "10": "1"}
    assert 'id="distribution-per-manager" data-total="3"' in page
    later = test_clock.day(400).isoformat()
    empty = client.get(f"/distribution/report?since={later}").get_data(as_text=True)
    assert 'data-user="' not in empty
    assert client.get("/distribution/report?since=soon").status_code == 400

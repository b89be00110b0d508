"""The cadence pages: an administrator sets the intervals, the report shows each role its
share, the CSV link downloads what is filtered."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.ext.absences_support import NIKITINA, token

ADMIN_EMAIL, EMPLOYEE_EMAIL = "admin@demo.portal", "o.nikitina@demo.portal"

pytestmark = pytest.mark.dated

FORM = {"category_field": "UF_CRM_CATEGORY", "a_count": "10", "a_unit": "day",
        "a_warning": "2", "b_count": "1", "b_unit": "month", "b_warning": "5", "c_count": "2",
        "c_unit": "month", "c_warning": "7", "min_call_seconds": "20",
        "email_direction": "both"}


def test_an_administrator_sets_the_intervals(app: Flask, client: FlaskClient,
                                             login_as: Any, admin: dict[str, str]) -> None:
    login_as(client, ADMIN_EMAIL)
    assert 'id="cadence-settings"' in client.get("/cadence/settings").get_data(as_text=True)
    bad = client.post("/cadence/settings", data={**FORM, "a_count": "-1"})
    assert bad.status_code == 422
    assert client.get("/api/v1/cadence/settings", headers=admin).get_json()[
        "intervals"]["A"]["count"] == 14
    unknown = client.post("/cadence/settings", data={**FORM, "category_field": "UF_CRM_NOPE"})
    assert unknown.status_code == 422 and "UF_CRM_NOPE" in unknown.get_data(as_text=True)
    saved = client.post("/cadence/settings", data=FORM, follow_redirects=True)
    assert "The cadence settings were saved." in saved.get_data(as_text=True)
    body = client.get("/api/v1/cadence/settings", headers=admin).get_json()
    assert body["intervals"]["A"] == {"count": 10, "unit": "day", "warning_days": 2}
    assert body["contact"]["min_call_seconds"] == 20
    rebuilt = client.post("/cadence/resync", follow_redirects=True).get_data(as_text=True)
    assert "The report was rebuilt from the portal." in rebuilt and 'value="100"' in rebuilt
    assert client.get("/api/v1/cadence/report", headers=admin).get_json()["total"] > 0


def test_the_report_page_per_role(app: Flask, client: FlaskClient, login_as: Any,
                                  admin: dict[str, str]) -> None:
    client.put("/api/v1/cadence/settings", json={"category_field": "UF_CRM_CATEGORY"},
               headers=admin)
    assert client.post("/api/v1/cadence/resync", headers=admin).status_code == 200
    everyone = client.get("/api/v1/cadence/report", headers=admin).get_json()["total"]
    login_as(client, EMPLOYEE_EMAIL)
    assert client.get("/cadence/settings").status_code == 403
    page = client.get("/cadence/").get_data(as_text=True)
    assert 'id="cadence-table"' in page and 'id="cadence-chart"' in page
    assert 'id="cadence-load"' in page and f"of {everyone}<" not in page
    # Her bar is her companies stacked ok / warning / overdue, as the load endpoint counts them.
    mine_load, = client.get("/api/v1/cadence/load", headers=token(app, NIKITINA)).get_json()[
        "items"]
    share = re.search(r'<figure class="chart[^"]*" id="cadence-chart".*?</figure>', page, re.S)
    assert share, "no share chart"
    assert f'data-key="{NIKITINA}" data-value="{mine_load["total"]}"' in share.group(0)
    drawn = dict(re.findall(r'<g class="chart-seg" data-segment="(\w+)" data-value="(\d+)">',
                            share.group(0)))
    assert drawn == {k: str(v) for k, v in mine_load["states"].items() if v}
    assert all(f'<li data-segment="{state}">' in share.group(0)
               for state in ("ok", "warning", "overdue"))
    assert "style=" not in share.group(0)  # the CSP allows no inline styles
    assert client.get("/cadence/?state=sideways").status_code == 400
    mine = client.get("/cadence/?state=overdue&category=A&format=csv")
    grid_lines = mine.get_data(as_text=True).lstrip("\ufeff").strip().splitlines()
    assert grid_lines[0].startswith("Company,Category") and len(grid_lines) > 1
    download = client.get("/cadence/report.csv?state=overdue&category=A")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    lines = download.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("company_id,title")
    assert all(",A," in line for line in lines[1:])

"""The contact cadence played in a real browser: the administrator sets the intervals and
rebuilds the report; a manager filters to their overdue A clients, plans a call from a row
through the confirmation; once the call is made on the portal (its telephony), the company
leaves the overdue list."""

from __future__ import annotations

import re
import shutil
import time
from typing import Any

import pytest

from simulator.scenarios.demo_cadence import SETTING
from tests.conftest import require
from tests.e2e.conftest import LiveServer
from tests.e2e.test_absence_fanout_browser import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.ext.absences_support import EMAILS

pytestmark = [pytest.mark.browser, pytest.mark.dated]


def test_a_manager_plans_a_call_on_an_overdue_client(live_server: LiveServer) -> None:
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    sim = live_server.sim
    company_id = int(sim.settings.get(SETTING)["failed_call"])
    manager = int(sim.call("crm.company.get", {"id": company_id})["result"]["ASSIGNED_BY_ID"])
    row = f'tr[data-company="{company_id}"]'

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS)
        try:
            admin: Any = browser.new_page(locale="en-US")
            admin.set_default_timeout(15_000)
            log_in(admin, live_server, EMAILS[1])
            admin.goto(live_server.url + "/cadence/settings")
            admin.fill("#category_field", "UF_CRM_CATEGORY")
            admin.fill("#a_count", "10")
            admin.fill("#a_warning", "2")
            admin.get_by_role("button", name="Save").click()
            expect(admin.get_by_text("The cadence settings were saved.")).to_be_visible()
            expect(admin.locator("#a_count")).to_have_value("10")
            admin.get_by_role("button", name="Rebuild from the portal").click(timeout=120_000)
            expect(admin.get_by_text("The report was rebuilt from the portal.")).to_be_visible(
                timeout=120_000)

            page: Any = browser.new_context(locale="en-US").new_page()
            page.set_default_timeout(15_000)
            log_in(page, live_server, EMAILS[manager])
            page.goto(live_server.url + "/cadence/")
            page.select_option("#cadence-state", "overdue")
            page.select_option("#cadence-category", "A")
            page.select_option("#cadence-responsible", str(manager))
            page.get_by_role("button", name="Show").click()
            expect(page).to_have_url(re.compile(r"state=overdue"))
            expect(page.locator(row)).to_be_visible()
            cells = page.locator("#cadence-table tbody tr td:nth-child(2)").all_inner_texts()
            assert cells and set(cells) == {"A"}

            page.locator(row).locator("select").select_option("11")
            page.locator(row).get_by_role("button", name="Plan a call").click()
            expect(page.locator("#confirmation")).to_be_visible()
            expect(page.locator("#confirmation-lines")).to_contain_text("11:00")
            page.get_by_role("button", name="Confirm: plan the call").click()
            expect(page.get_by_text(re.compile(r"A call to .+ is planned\."))).to_be_visible()
            planned = sim.call("crm.activity.list", {"filter": {
                "OWNER_TYPE_ID": 4, "OWNER_ID": company_id, "COMPLETED": "N"}})["result"]
            assert planned, "the planned call is on the portal"
            expect(page.locator(row)).to_be_visible()  # still overdue: not called yet

            # The manager calls through the portal's telephony and reaches the client.
            call = sim.call("telephony.externalcall.register", {
                "USER_ID": manager, "TYPE": 1, "PHONE_NUMBER": "+74950000009",
                "CRM_ENTITY_TYPE": "COMPANY", "CRM_ENTITY_ID": company_id})["result"]
            sim.call("telephony.externalcall.finish", {"CALL_ID": call["CALL_ID"],
                                                        "USER_ID": manager, "DURATION": 140})
            # The portal's event reaches the extension in the background: wait for it.
            deadline = time.monotonic() + 30
            while page.locator(row).count() and time.monotonic() < deadline:
                page.wait_for_timeout(250)
                page.reload()
            expect(page.locator(row)).to_have_count(0)
        finally:
            browser.close()

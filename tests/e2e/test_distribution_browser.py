"""Lead distribution played in a real browser (Debian's Chromium driven by Playwright): a lead
arrives on the portal and its visit task reaches a field representative; the representative
opens the visit report from the task's link, finds the client prefilled, ticks three lines and
submits; the outcome page explains each pick; three deals stand in the lines' pipelines with
the main manager's control task, and the lead is converted; submitting again changes nothing.

The live server wires the extension to the simulated portal in-process (its events, its calls);
the same flow in REST mode, portal and extension on their own HTTP servers, is
tests/e2e/test_distribution_rest_browser.py."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import require
from tests.e2e.conftest import LiveServer
from tests.e2e.test_absence_fanout_browser import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.ext.distribution_support import new_lead, portal_deals

pytestmark = [pytest.mark.browser]

REPRESENTATIVES = {7: "m.grigorieva@demo.portal", 12: "m.orlov@demo.portal"}


def test_a_representative_files_a_visit_report_from_the_task_and_reads_the_picks(
        live_server: LiveServer, tmp_path: Path) -> None:
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    from portal_ext.distribution.demo_setup import set_up_demo
    from portal_ext.portal.clock import portal_now
    from portal_ext.portal.registration import client_for, current_portal

    sim = live_server.sim
    with live_server.app.app_context():
        portal = current_portal()
        assert set_up_demo(portal=portal, client=client_for(portal), actor=None,
                           now=portal_now(client_for(portal))) == 3
    lead = new_lead(sim, "Stroy-Komplekt")  # the portal's event: a visit task for a visitor
    tasks = sim.call("tasks.task.list", {"filter": {"UF_CRM_TASK": f"L_{lead}"}, "select": [
        "ID", "RESPONSIBLE_ID", "DESCRIPTION"]})["result"]["tasks"]
    assert len(tasks) == 1
    visitor = int(tasks[0]["responsibleId"])
    link = re.search(r"https?://\S+", tasks[0]["description"])
    assert link is not None and link.group(0).endswith(f"lead_id={lead}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.set_default_timeout(20_000)
            log_in(page, live_server, REPRESENTATIVES[visitor])
            page.goto(link.group(0))
            form = page.locator("#visit-report-form")
            expect(form.locator("input[name=company]")).to_have_value("Stroy-Komplekt Ltd")
            expect(form.locator("input[name=contact]")).to_have_value("Anna")
            boxes = form.locator("input[name=lines]")
            expect(boxes).to_have_count(3)
            for box in boxes.all():
                box.check()
            form.locator("textarea[name=comment]").fill("Needs equipment, containers, a fair")
            form.locator("button[type=submit]").click()

            expect(page.locator("#report-state")).to_have_attribute("data-state", "done")
            rows = page.locator("#decisions tbody tr")
            expect(rows).to_have_count(3)
            for row in rows.all():  # each pick in words, with its deal
                expect(row.locator("td").nth(1)).to_have_text(re.compile(r"^#\d+$"))
                expect(row.locator("td").nth(2)).to_contain_text(re.compile(
                    r"(random|in turn|least loaded), \d+ open deals|head|fallback"))
            expect(page.locator("#main-manager")).to_contain_text("Main manager:")
            outcome = page.url
            page.screenshot(path=str(tmp_path / "visit-report-outcome.png"), full_page=True)

            report_id = int(outcome.rstrip("/").rsplit("/", 1)[1])
            deals = portal_deals(sim, report_id)
            assert len(deals) == 3
            assert {d["CATEGORY_ID"] for d in deals} == {"0", "1"}  # two business pipelines
            lead_now = sim.call("crm.lead.get", {"id": lead})["result"]
            assert lead_now["STATUS_ID"] == "CONVERTED"

            page.goto(link.group(0))  # the same report again: the first one, nothing new
            form.locator("input[name=lines]").first.check()
            form.locator("button[type=submit]").click()
            expect(page).to_have_url(outcome)
            expect(page.locator(".flash, [role=status], .messages").first).to_contain_text(
                "already has a visit report")
            assert len(portal_deals(sim, report_id)) == 3
        finally:
            browser.close()

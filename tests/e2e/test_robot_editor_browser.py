"""The stage robot editor played in a real browser (Debian's Chromium driven by Playwright):
an administrator fills in a robot, previews it against a real lead (the computed deadline is
explained, nothing is created), saves it, and a robot for a stage the portal does not have is
refused with the message under the stage field."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.conftest import require
from tests.e2e.conftest import LiveServer
from tests.e2e.test_absence_fanout_browser import CHROMIUM, CHROMIUM_ARGS, NIKITINA, log_in

pytestmark = [pytest.mark.browser]


def test_an_admin_previews_and_saves_a_robot_and_a_missing_stage_is_refused(
        live_server: LiveServer) -> None:
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    sim = live_server.sim
    lead = sim.call("crm.lead.add", {"fields": {"TITLE": "Browser lead", "STATUS_ID": "NEW",
                                                "ASSIGNED_BY_ID": NIKITINA}})["result"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.set_default_timeout(20_000)
            log_in(page, live_server, "admin@demo.portal")
            page.goto(f"{live_server.url}/robots/new")
            page.select_option("#entity", "lead")
            page.fill("#status_id", "IN_PROCESS")
            page.fill("#title", "Call back {TITLE}")
            page.fill("#deadline_hours", "4")
            page.fill("#item_id", str(lead))
            page.click("#preview-button")
            expect(page.locator("#preview-title")).to_have_text("Call back Browser lead")
            expect(page.locator("#preview-deadline")).to_contain_text(
                re.compile(r"^entered at \w{3} \d\d:\d\d \+ 4 working hours = \w{3}"))
            page.click("#save-robot")
            expect(page).to_have_url(re.compile(r"/robots/\d+$"))
            expect(page.locator("#robot-versions")).to_contain_text("created")

            page.goto(f"{live_server.url}/robots/new")
            page.fill("#status_id", "NO_SUCH_STAGE")
            page.fill("#title", "Call back {TITLE}")
            page.fill("#deadline_hours", "4")
            page.click("#save-robot")
            expect(page.locator("#status_id-errors")).to_contain_text(
                "There is no stage NO_SUCH_STAGE")
            page.goto(f"{live_server.url}/robots/")
            expect(page.locator("#robots tbody tr")).to_have_count(1)
        finally:
            browser.close()

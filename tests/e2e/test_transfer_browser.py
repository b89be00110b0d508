"""The dismissal transfer played through the UI in a real browser (Debian's Chromium driven by
Playwright), in Russian at phone width: choose the successor, read the preview, read the
confirmation's numbers (nothing moves before "Confirm"), confirm, read the finished run and
its way back, undo through its own confirmation, and see everything back with the dismissed
user. The jobs run inline (the live server's default), so each page shows the finished run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import require
from tests.e2e.conftest import LiveServer
from tests.e2e.test_absence_fanout_browser import CHROMIUM, CHROMIUM_ARGS, NIKITINA, log_in
from tests.ext.transfers_support import holdings

pytestmark = [pytest.mark.browser]

KINDS = ("deal", "company", "contact")


def test_an_admin_transfers_a_dismissed_users_items_and_undoes_it(
        live_server: LiveServer, tmp_path: Path) -> None:
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    sim = live_server.sim
    sim.call("user.update", {"ID": NIKITINA, "ACTIVE": "N"})
    before = {k: n for k, n in holdings(sim, NIKITINA).items() if k in KINDS}
    total = sum(before.values())
    assert total > 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-US",
                                          viewport={"width": 390, "height": 844})
            admin = context.new_page()
            admin.set_default_timeout(20_000)
            log_in(admin, live_server, "admin@demo.portal")
            admin.goto(f"{live_server.url}/transfers/new?user={NIKITINA}")
            token = admin.locator("#transfer-form input[name=csrf_token]").input_value()
            switched = admin.request.post(f"{live_server.url}/language", form={
                "csrf_token": token, "lang": "ru", "next": "/"}, max_redirects=0)
            assert switched.status in (302, 303), switched.status
            admin.reload()
            for box in admin.locator("#types input[type=checkbox]").all():
                box.set_checked(box.get_attribute("value") in KINDS)
            admin.locator("#transfer-form button[type=submit]").click()

            expect(admin.locator("#confirm-form")).to_be_visible()
            admin.locator("#confirm-form button[type=submit]").click()
            heading = admin.locator("#confirmation h1")
            expect(heading).to_contain_text(f"Передать {total} элемент")
            expect(heading).to_contain_text("Ольга Никитина →")
            expect(admin.locator("#confirmation-way-back")).to_contain_text(
                "Отменить передачу")
            assert {k: n for k, n in holdings(sim, NIKITINA).items() if k in KINDS} == before
            admin.screenshot(path=str(tmp_path / "transfer-confirm-390.png"), full_page=True)
            card = admin.locator("#confirmation").bounding_box()
            assert card is not None and card["x"] + card["width"] <= 390  # fits a phone

            admin.locator("#confirm-button").click()
            expect(admin.locator("#progress-heading")).to_have_text("Передано")
            expect(admin.locator("#progress-percent")).to_have_text("100\xa0%")
            expect(admin.locator("#progress-figures")).to_contain_text(f"передано: {total}")
            expect(admin).to_have_title(re.compile(r"^Передача дел: Ольга Никитина"))
            assert all(holdings(sim, NIKITINA)[k] == 0 for k in KINDS)

            admin.locator("#undo-form button[type=submit]").click()
            expect(heading).to_contain_text(f"Отменить передачу: {total} элемент")
            expect(heading).to_contain_text("→ Ольга Никитина?")
            assert all(holdings(sim, NIKITINA)[k] == 0 for k in KINDS)
            admin.locator("#confirm-button").click()
            expect(admin.locator("#progress-heading")).to_have_text("Передача отменена")
            expect(admin.locator("#batch-state")).to_have_text("отменено")
            assert {k: n for k, n in holdings(sim, NIKITINA).items() if k in KINDS} == before
        finally:
            browser.close()

"""A person logs in with the portal in a real browser (Debian's Chromium driven by
Playwright), sees the dashboard, and switches it to Russian."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import require
from tests.e2e.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]

pytestmark = pytest.mark.browser


def test_admin_logs_in_with_the_portal_and_switches_to_russian(live_server: LiveServer,
                                                               tmp_path: Path) -> None:
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="en-US")
            page.set_default_timeout(15_000)

            page.goto(live_server.url + "/")
            expect(page).to_have_url(live_server.url + "/auth/login?next=%2F")
            page.get_by_role("link", name="Log in with the portal").click()

            # The portal's own login form (simulator /oauth/authorize/).
            expect(page).to_have_url(re.compile(r"/oauth/authorize/\?client_id="))
            page.fill("#email", "admin@demo.portal")
            page.fill("#password", "demo")
            page.get_by_role("button", name="Sign in").click()

            # Back through /auth/callback to the dashboard.
            expect(page).to_have_url(live_server.url + "/")
            expect(page.locator("#synced-users")).to_have_text("12")
            expect(page.locator(".who")).to_have_text("Дмитрий Соколов")
            assert page.title() == "Dashboard · Cover"

            page.get_by_role("button", name="RU").click()
            nav = page.get_by_role("navigation", name="Главное меню")
            expect(nav.get_by_role("link", name="Сводка")).to_be_visible()
            expect(nav.get_by_role("link", name="События")).to_be_visible()
            expect(page.get_by_text("Синхронизировано сотрудников")).to_be_visible()
            assert page.title() == "Сводка · Cover"

            shot = tmp_path / "dashboard-ru.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()

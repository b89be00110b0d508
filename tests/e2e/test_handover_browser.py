"""The handover played through the UI as an administrator would, in a real browser (Debian's
Chromium driven by Playwright): record Nikitina's vacation with Fedorov as deputy, prepare the
handover, read the preview, read the confirmation's numbers and cancel (nothing moves),
confirm, watch the progress bar fill and the page say it finished without reloading, open a
moved deal on the portal (Fedorov responsible, the previous responsible shown), then move the
portal's clock past the vacation and see the deal back with Nikitina once the background tick
has run.

The background work runs in the embedded worker thread with a one-second tick, as in the
one-command demo, in chunks of 40 items; the test holds the chunks back until it has seen the
progress bar between empty and full, so a fast machine cannot outrun it."""

from __future__ import annotations

import queue
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from portal_ext.jobs import ThreadRunner
from tests.conftest import require
from tests.e2e.conftest import LiveServer
from tests.e2e.test_absence_fanout_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FEDOROV,
    NIKITINA,
    log_in,
    set_clock,
    vacation_week,
)
from tests.ext.handover_support import holders

pytestmark = [pytest.mark.browser, pytest.mark.dated]


class SteppedRunner(ThreadRunner):
    """The embedded worker and scheduler, except that while ``hold`` is set each handover chunk
    waits for ``step()``: the test sees the progress bar between two chunks whatever the
    machine's speed, then lets the rest run freely with ``release()``."""

    HELD = "portal_ext.handover.tasks.apply_batch"

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.hold = True
        self.held: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()

    def submit(self, name: str, args: tuple[Any, ...]) -> None:
        if self.hold and name == self.HELD:
            self.held.put((name, args))
        else:
            super().submit(name, args)

    def step(self, timeout: float = 60) -> None:
        """Let the next held chunk run (waiting for the page's action to queue it)."""
        super().submit(*self.held.get(timeout=timeout))

    def release(self) -> None:
        self.hold = False
        while not self.held.empty():
            super().submit(*self.held.get_nowait())


@pytest.fixture
def background(live_server: LiveServer) -> Any:
    """The embedded worker and scheduler (TASK_RUNNER=thread), ticking every second; one
    handover chunk of 40 items per job."""
    app = live_server.app
    app.config.update(TICK_SECONDS=1.0, HANDOVER_CHUNK_SIZE=40, HANDOVER_JOB_SECONDS=0)
    runner = SteppedRunner(app)
    app.extensions["portal_ext.jobs"] = runner
    runner.start()
    yield runner
    runner.stop()


def test_an_admin_hands_a_client_base_over_and_gets_it_back(
        live_server: LiveServer, background: SteppedRunner, tmp_path: Path) -> None:
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    sim = live_server.sim
    clock, monday = vacation_week(live_server, NIKITINA)  # after her vacation in the demo
    first_day = clock.day(monday)
    set_clock(live_server, clock.iso(monday - 3))  # the Friday before
    before = holders(sim)
    hers = {key for key, owner in before.items() if owner == NIKITINA}
    deals = sorted(i for kind, i in hers if kind == "deal")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            admin = browser.new_context(locale="en-US").new_page()
            admin.set_default_timeout(20_000)
            log_in(admin, live_server, "admin@demo.portal")
            admin.goto(live_server.url + "/absences/new")
            admin.select_option("#user_id", str(NIKITINA))
            admin.fill("#start", first_day.isoformat())
            admin.fill("#end", clock.day(monday + 4).isoformat())
            admin.select_option("#kind", "vacation")
            admin.select_option("#deputy_id", str(FEDOROV))
            admin.get_by_role("button", name="Save").click()
            errors = admin.locator(".errors").all_inner_texts()
            assert not errors, errors
            expect(admin.get_by_text("The absence was recorded.")).to_be_visible()
            set_clock(live_server, clock.iso(monday))

            admin.get_by_role("link", name="Handovers").click()
            row_text = f"{first_day.day} {first_day:%b %Y}"
            admin.locator("#absences-to-cover tr", has_text=row_text).get_by_role(
                "link", name="Prepare handover").click()
            expect(admin.locator("h1")).to_contain_text("Ольга Никитина")
            admin.check("input[value=task]")  # every kind is ticked already
            admin.check("#include_closed")
            admin.get_by_role("button", name="Show preview").click()

            # The preview: counts per kind as the portal has them, a sample, nothing moved.
            expect(admin.locator("#preview-counts tr[data-type=deal] .count")).to_have_text(
                str(len(deals)))
            expect(admin.locator("#preview-total")).to_have_text(str(len(hers)))
            assert admin.locator("#preview-counts tr[data-type=deal] a").count() == 5
            admin.get_by_role("button", name="Hand over").click()
            # The confirmation says in numbers what will move; nothing has moved yet.
            kinds = len({kind for kind, _ in hers})
            expect(admin.locator("#confirmation h1")).to_have_text(
                f"Hand over {len(hers)} items of {kinds} kinds from Ольга Никитина to "
                "Алексей Фёдоров?")
            expect(admin.locator("#confirmation-lines")).to_contain_text(
                f"Deals: {len(deals)}")
            assert holders(sim) == before
            admin.get_by_role("link", name="Cancel").click()  # back to the preview
            expect(admin.locator("#preview-total")).to_have_text(str(len(hers)))
            assert holders(sim) == before
            admin.get_by_role("button", name="Hand over").click()
            admin.get_by_role("button", name=f"Confirm: hand over {len(hers)} items").click()
            # One chunk of 40 moves: the bar stands between empty and full, and the page
            # says how far it got without reloading.
            background.step()
            admin.wait_for_function(  # the page may still be loading at first
                "() => { const bar = document.querySelector('#progress-bar');"
                " return bar !== null && bar.value > 0 && bar.value < 100; }")
            expect(admin.locator("#progress-heading")).to_have_text("Handing over")
            expect(admin.locator("#progress-figures")).to_contain_text(f"of {len(hers)} items")
            background.release()
            expect(admin.locator("#batch-state")).to_have_text("with the deputy", timeout=120_000)
            expect(admin.locator("#progress-heading")).to_have_text("Handed over")
            expect(admin.locator("#progress-percent")).to_have_text("100%")
            expect(admin.locator("#progress-figures")).to_have_text(f"{len(hers)} moved")
            expect(admin.locator("#restore-form")).to_be_visible()  # the way back
            assert "Handover of Ольга Никитина's clients" in admin.title()
            expect(admin.locator("#report tr[data-type=deal] .moved")).to_have_text(
                str(len(deals)))
            admin.screenshot(path=str(tmp_path / "handover-applied.png"), full_page=True)

            # On the portal: the deal is Fedorov's and shows who had it.
            portal_view = browser.new_context(locale="en-US").new_page()
            portal_view.goto(f"{live_server.url}/portal/crm/deals/{deals[0]}")
            responsible = portal_view.locator("table.fields tr:has(th:text-is('Responsible'))")
            expect(responsible).to_contain_text("Фёдоров")
            expect(portal_view.locator(
                "table.fields tr:has(th:text-is('UF_CRM_PREV_RESPONSIBLE'))")).to_contain_text(
                str(NIKITINA))
            assert set(map(holders(sim).__getitem__, hers)) == {FEDOROV}

            # The vacation is over; the tick gives everything back by itself.
            set_clock(live_server, clock.iso(monday + 7))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                admin.reload()
                if admin.locator("#batch-state").inner_text() == "given back":
                    break
                time.sleep(1)
            expect(admin.locator("#batch-state")).to_have_text("given back")
            expect(admin.locator("#report tr[data-type=deal] .restored")).to_have_text(
                str(len(deals)))
            portal_view.reload()
            expect(responsible).to_contain_text("Никитина")
            assert re.search(r"UF_CRM_PREV_RESPONSIBLE", portal_view.content()) is None
            assert holders(sim) == before
            admin.screenshot(path=str(tmp_path / "handover-restored.png"), full_page=True)
        finally:
            browser.close()

"""The acceptance scenario in a real browser (Debian's Chromium driven by Playwright): an
administrator records a vacation with a deputy; the portal's clock moves to its start; a new
lead, a client's e-mail and a near deadline reach the salesperson; the deputy's inbox in the
portal shows a marked copy of each and the deputy's cover list shows them; after the end, no
more copies. The portal's own activity (the lead, the e-mail, the task, the clock) is played
through its REST methods and control plane, as the portal's users and timers would cause it."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.clock import TestClock
from tests.conftest import first_free_weekday, require, seeded_clock
from tests.e2e.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
NIKITINA, FEDOROV = 5, 6

pytestmark = [pytest.mark.browser, pytest.mark.dated]


def vacation_week(server: LiveServer, user_id: int) -> tuple[TestClock, int]:
    """The test clock, and the days from its today to a Monday on which ``user_id`` may start a
    week's vacation (clear of the demo's own absences of theirs)."""
    clock = seeded_clock(server.sim)
    return clock, first_free_weekday(server.sim, clock, user_id)


def day_month(day: date) -> str:
    """``14 Dec``, as the pages and copies write a day (English)."""
    return f"{day.day} {day:%b}"


def set_clock(server: LiveServer, when: str) -> None:
    answer = requests.post(f"{server.url}/_sim/clock", json={"now": when, "frozen": True},
                           timeout=10)
    assert answer.status_code == 200, answer.text


def log_in(page: Any, server: LiveServer, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/auth/login")
    page.get_by_role("link", name="Log in with the portal").click()
    expect(page).to_have_url(re.compile(r"/oauth/authorize/\?client_id="))
    page.fill("#email", email)
    page.fill("#password", "demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.url + "/")


def copies_in_inbox(page: Any, server: LiveServer, user_id: int) -> list[str]:
    page.goto(f"{server.url}/portal/users/{user_id}/inbox")
    texts = page.locator("#inbox li[data-id] .body").all_inner_texts()
    return [t for t in texts if t.startswith("Copy for")]


def test_a_deputy_receives_marked_copies_during_the_vacation_only(
        live_server: LiveServer, tmp_path: Path) -> None:
    live_server.app.config["PORTAL_LANGUAGE"] = "en"  # the test reads the copies' English
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    sim = live_server.sim
    clock, monday = vacation_week(live_server, NIKITINA)
    last_day = clock.day(monday + 7)
    set_clock(live_server, clock.iso(monday - 3))  # the Friday before
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS)
        try:
            admin = browser.new_context(locale="en-US").new_page()
            admin.set_default_timeout(15_000)
            log_in(admin, live_server, "admin@demo.portal")
            admin.goto(live_server.url + "/absences/new")
            admin.select_option("#user_id", str(NIKITINA))
            admin.fill("#start", clock.day(monday).isoformat())
            admin.fill("#end", last_day.isoformat())
            admin.select_option("#kind", "vacation")
            admin.select_option("#deputy_id", str(FEDOROV))
            admin.get_by_role("button", name="Save").click()
            expect(admin.get_by_text("The absence was recorded.")).to_be_visible()

            # The vacation begins; the salesperson's work keeps arriving.
            set_clock(live_server, clock.iso(monday))
            lead = sim.call("crm.lead.add", {"fields": {
                "TITLE": "Excavator for Stroymontazh", "ASSIGNED_BY_ID": NIKITINA}})["result"]
            sim.call("crm.activity.add", {"fields": {
                "OWNER_TYPE_ID": 1, "OWNER_ID": lead, "TYPE_ID": 4, "DIRECTION": 1,
                "SUBJECT": "Quote request", "RESPONSIBLE_ID": NIKITINA,
                "COMMUNICATIONS": [{"VALUE": "buyer@stroymontazh.example", "TYPE": "EMAIL"}]}})
            due = datetime.fromisoformat(clock.iso(monday)) + timedelta(minutes=40)
            sim.call("tasks.task.add", {"fields": {"TITLE": "Send the offer",
                                                   "RESPONSIBLE_ID": NIKITINA,
                                                   "DEADLINE": due.isoformat()}})
            tick = requests.post(f"{live_server.url}/_sim/tick", timeout=10)
            assert tick.json()["result"]["task_deadline_soon"] == 1

            # The deputy's inbox in the portal: a marked copy of each.
            deputy_view = browser.new_context(locale="en-US").new_page()
            deputy_view.set_default_timeout(15_000)
            got = copies_in_inbox(deputy_view, live_server, FEDOROV)
            away = f"for О. Никитина, away until {day_month(last_day)}; you are the deputy."
            assert all(away in c for c in got), got
            for text in ('responsible for the lead "Excavator for Stroymontazh"',
                         'New incoming e-mail "Quote request"',
                         'You have been assigned the task "Send the offer"',
                         'The deadline of the task "Send the offer" is near'):
                assert sum(text in c for c in got) == 1, (text, got)
            # The same tick told her of her older tasks now overdue: copied as well.
            overdue = [c for c in got if "is overdue" in c]
            assert len(got) == 4 + len(overdue)
            deputy_view.get_by_role("link", name="Excavator for Stroymontazh").first.click()
            expect(deputy_view.locator("h1")).to_contain_text("Excavator for Stroymontazh")
            deputy_view.screenshot(path=str(tmp_path / "lead-from-copy.png"))

            # The deputy's cover list in the extension shows the same work.
            log_in(deputy_view, live_server, "a.fedorov@demo.portal")
            deputy_view.goto(live_server.url + "/absences/covering")
            deputy_view.get_by_role("link", name="Cover list").first.click()
            expect(deputy_view.locator("#cover-leads")).to_contain_text(
                "Excavator for Stroymontazh")
            expect(deputy_view.locator("#cover-emails")).to_contain_text("Quote request")
            expect(deputy_view.locator("#cover-tasks")).to_contain_text("Send the offer")

            # The administrator's delivery log: every copy to the deputy, all sent.
            admin.goto(live_server.url + "/deliveries?reason=deputy&state=sent")
            expect(admin.locator("table.deliveries tbody tr")).to_have_count(len(got))
            expect(admin.locator("td.reason").first).to_contain_text(
                "deputy for Ольга Никитина")

            # After the vacation: the salesperson's new lead is hers alone.
            set_clock(live_server, clock.iso(monday + 8))
            sim.call("crm.lead.add", {"fields": {"TITLE": "Loader",
                                                 "ASSIGNED_BY_ID": NIKITINA}})
            assert len(copies_in_inbox(deputy_view, live_server, FEDOROV)) == len(got)
            deputy_view.screenshot(path=str(tmp_path / "deputy-inbox.png"), full_page=True)
            assert (tmp_path / "deputy-inbox.png").stat().st_size > 10_000
        finally:
            browser.close()

"""A deadline request and its approval in a real browser (Debian's Chromium driven by
Playwright): under ``approval_required`` Ольга Никитина asks, with the form, to move the
deadline of a task her head set her; the deadline stays. Her head opens his inbox on the
portal, follows the notification's link to the request's page, approves with the button, and
the task's deadline has moved on the portal."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from portal_ext.portal.clock import portal_zone
from tests.conftest import require
from tests.e2e.conftest import LiveServer
from tests.e2e.test_absence_fanout_browser import CHROMIUM, CHROMIUM_ARGS, NIKITINA, log_in

pytestmark = [pytest.mark.browser, pytest.mark.dated]
TORG_HEAD = 4


def test_the_head_approves_a_request_from_the_notification(live_server: LiveServer) -> None:
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    from portal_ext.context import for_portal
    from portal_ext.deadlines.services import set_policy
    from portal_ext.directory.models import PortalUser
    from portal_ext.extensions import db
    from portal_ext.portal.registration import current_portal

    app, sim = live_server.app, live_server.sim
    app.config["PORTAL_LANGUAGE"] = "en"
    with app.app_context():
        portal = current_portal()
        admin = db.session.scalars(db.select(PortalUser).where(
            PortalUser.portal_id == portal.id, PortalUser.portal_user_id == 1)).one()
        set_policy(for_portal(portal, actor=admin), "default", {"mode": "approval_required"})
        zone = portal_zone()
    due = sim.clock.now().replace(second=0, microsecond=0) + timedelta(days=3)
    task = int(sim.call("tasks.task.add", {"fields": {
        "TITLE": "Prepare the tender offer", "RESPONSIBLE_ID": NIKITINA,
        "DEADLINE": due.replace(tzinfo=UTC).isoformat()}}, user_id=TORG_HEAD)[
        "result"]["task"]["id"])
    wanted = due + timedelta(days=2)

    def deadline() -> str:
        return str(sim.call("tasks.task.get", {"taskId": task})["result"]["task"]["deadline"])

    before = deadline()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS)
        try:
            asker = browser.new_context(locale="en-US").new_page()
            asker.set_default_timeout(15_000)
            log_in(asker, live_server, "o.nikitina@demo.portal")
            asker.goto(f"{live_server.url}/deadlines/requests/new?task={task}")
            asker.fill("#new_deadline", wanted.replace(tzinfo=UTC).astimezone(zone)
                       .strftime("%Y-%m-%dT%H:%M"))
            asker.fill("#reason", "The supplier delays the delivery by two days")
            asker.get_by_role("button", name="Send").click()
            expect(asker.get_by_text("The request was sent for approval.")).to_be_visible()
            assert deadline() == before

            head = browser.new_context(locale="en-US").new_page()
            head.set_default_timeout(15_000)
            log_in(head, live_server, "s.morozov@demo.portal")
            head.goto(f"{live_server.url}/portal/users/{TORG_HEAD}/inbox")
            notice = head.locator("#inbox li[data-id]", has_text="asks to move the deadline")
            notice.locator("a", has_text=re.compile(r"/deadlines/requests/\d+")).first.click()
            expect(head.get_by_text("The supplier delays the delivery by two days")) \
                .to_be_visible()
            head.get_by_role("button", name="Approve").click()
            expect(head.get_by_text("The request was approved and the deadline moved.")) \
                .to_be_visible()
            moved = deadline()
            assert datetime.fromisoformat(moved).astimezone(UTC).replace(tzinfo=None) == wanted
        finally:
            browser.close()

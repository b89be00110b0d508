"""Lead distribution played in a real browser with the portal and the extension each on their
own HTTP server, as with a cloud portal: the extension calls the portal through its incoming
webhook and hears of the new lead through the event handler it bound over REST. A lead added
on the portal (over its REST) gets a visit task for a field representative; the
representative logs in through the portal, opens the visit report from the task's link,
finds the client prefilled, ticks three lines and submits; the page follows the run until it
is done and the outcome page explains each pick; the deals stand on the portal in the lines'
pipelines, none for the manager who is away; submitting again changes nothing."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.clock import TestClock
from tests.conftest import require
from tests.e2e.conftest import RestLiveServer
from tests.e2e.test_absence_fanout_browser import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.e2e.test_distribution_browser import REPRESENTATIVES
from tests.ext.absences_support import token
from tests.ext.distribution_support import CONTAINER_PEOPLE

pytestmark = [pytest.mark.browser]

AWAY = CONTAINER_PEOPLE[0]


def _deals(portal: requests.Session, webhook: str, report_id: int,
           line_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The report's deals as the portal lists them, per line (each carries the report's
    identity in ``ORIGIN_ID``)."""
    found = {}
    for line_id in line_ids:
        answer = portal.post(f"{webhook}crm.deal.list.json", json={
            "filter": {"ORIGINATOR_ID": "portal_ext.distribution",
                       "ORIGIN_ID": f"visit-{report_id}-{line_id}"},
            "select": ["ID", "CATEGORY_ID", "STAGE_ID", "ASSIGNED_BY_ID"]})
        assert answer.status_code == 200, answer.text
        for row in answer.json()["result"]:
            assert line_id not in found, f"two deals for line {line_id}"
            found[line_id] = row
    return found


def test_over_rest_a_representative_files_a_visit_report_and_reads_the_picks(
        rest_live_server: RestLiveServer, test_clock: TestClock, tmp_path: Path) -> None:
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    from portal_ext.distribution.demo_setup import set_up_demo
    from portal_ext.portal.clock import portal_now
    from portal_ext.portal.registration import client_for, current_portal

    server, sim = rest_live_server, rest_live_server.sim
    ext, webhook = server.url, f"{server.portal_url}/rest/1/testtoken/"
    with server.app.app_context():
        portal = current_portal()
        assert set_up_demo(portal=portal, client=client_for(portal), actor=None,
                           now=portal_now(client_for(portal))) == 3
    http = requests.Session()
    away = http.post(f"{ext}/api/v1/absences", headers=token(server.app, 1), json={
        "user_id": AWAY, "kind": "vacation", "start": test_clock.day(-1).isoformat(),
        "end": test_clock.day(6).isoformat()})
    assert away.status_code == 201, away.text

    def portal_call(method: str, params: dict[str, Any]) -> Any:
        answer = http.post(f"{webhook}{method}.json", json=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    company = portal_call("crm.company.add", {"fields": {
        "TITLE": "Over-the-Wire Ltd", "UF_CRM_CATEGORY": "3"}})
    contact = portal_call("crm.contact.add", {"fields": {"NAME": "Anna"}})
    lead = portal_call("crm.lead.add", {"fields": {
        "TITLE": "Over-the-Wire", "STATUS_ID": "NEW", "COMPANY_ID": company,
        "CONTACT_ID": contact}})
    assert sim.bus.flush(20)  # the portal has delivered its events to the extension
    assert all(d.get("status") == 200 for d in sim.bus.deliveries), sim.bus.deliveries[-3:]
    [task] = portal_call("tasks.task.list", {"filter": {"UF_CRM_TASK": f"L_{lead}"},
                                             "select": ["ID", "RESPONSIBLE_ID",
                                                        "DESCRIPTION"]})["tasks"]
    visitor = int(task["responsibleId"])
    link = re.search(r"https?://\S+", task["description"])
    assert link is not None and link.group(0) == (
        f"{ext}/distribution/reports/new?lead_id={lead}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.set_default_timeout(20_000)
            log_in(page, server, REPRESENTATIVES[visitor])
            page.goto(link.group(0))
            form = page.locator("#visit-report-form")
            expect(form.locator("input[name=company]")).to_have_value("Over-the-Wire Ltd")
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
            expect(page.locator("#decisions")).to_contain_text("skipped: away until")
            expect(page.locator("#main-manager")).to_contain_text("Main manager:")
            outcome = page.url
            page.screenshot(path=str(tmp_path / "visit-report-outcome.png"), full_page=True)

            report_id = int(outcome.rstrip("/").rsplit("/", 1)[1])
            lines = {line["id"]: line for line in http.get(
                f"{ext}/api/v1/service-lines", headers=token(server.app, 1)).json()["lines"]}
            deals = _deals(http, webhook, report_id, lines)
            assert len(deals) == 3
            assert {line_id: (int(deal["CATEGORY_ID"]), deal["STAGE_ID"])
                    for line_id, deal in deals.items()} == {
                line_id: (line["category_id"], line["stage_id"])
                for line_id, line in lines.items()}
            assert AWAY not in {int(d["ASSIGNED_BY_ID"]) for d in deals.values()}
            report = http.get(f"{ext}/api/v1/visit-reports/{report_id}",
                              headers=token(server.app, visitor)).json()
            assert [c["skipped"] for d in report["decisions"] for c in d["candidates"]
                    if c["user_id"] == AWAY] == ["absent"]
            assert portal_call("crm.lead.get", {"id": lead})["STATUS_ID"] == "CONVERTED"

            page.goto(link.group(0))  # the same report again: the first one, nothing new
            form.locator("input[name=lines]").first.check()
            form.locator("button[type=submit]").click()
            expect(page).to_have_url(outcome)
            expect(page.locator(".flash, [role=status], .messages").first).to_contain_text(
                "already has a visit report")
            assert _deals(http, webhook, report_id, lines) == deals
        finally:
            browser.close()

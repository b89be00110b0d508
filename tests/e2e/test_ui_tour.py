"""The UI tour: every page of the extension, as each role, in English and Russian, at laptop
(1366 px) and phone (390 px) width, in one headless Chromium (Debian's, driven by Playwright).

One session per role and language logs in with the portal and visits its pages of
:data:`PAGES` at both widths: the administrator every page, the other roles the pages that
differ for them (their home page, their own lists). The tour fails on what a person would
trip over:

- the page scrolls sideways at 390 px (``scrollWidth > clientWidth`` of the document);
- a menu item cannot be reached: at 1366 px every item of the left menu is in view, or the
  menu scrolls; at 390 px the menu button is visible and the drawer it opens shows every
  item in view, or scrolls;
- a Russian page shows English words (its visible text against a small allow-list: the
  product's name, the language switch, and names from the portal's own data, which are not
  the UI's to translate);
- the browser's console reports an error, or a script fails;
- axe-core (vendored in tests/e2e/vendor/axe-core) finds a serious or critical violation.

Every page is saved as ``build/screenshots/<role>-<lang>-<width>-<page>.png`` (kept by CI as
artifacts). A new page is one entry in :data:`PAGES`; an id in its path (``{absence}``,
``{handover}``, ``{transfer}``, ``{spread}``, ``{team}``, ``{visit_report}``,
``{deadline_request}``) is resolved from the records
:func:`stage` makes on the demo portal before the tour starts."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require
from tests.e2e.conftest import LiveServer
from tests.e2e.test_absence_fanout_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
WIDTHS = (1366, 390)
LANGUAGES = ("en", "ru")

# Who plays each role on the demo portal (every password is "demo").
ADMIN_ID, HEAD_ID, AWAY_ID, DEPUTY_ID, EMPLOYEE_ID, DISMISSED_ID = 1, 4, 10, 9, 12, 7
# Ольга Никитина dismissed too, her leads, deals and companies spread by load over Алексей
# Фёдоров and the containers' head: the preview whose split the administrator may adjust.
SPREAD_ID, SPREAD_OVER = 5, (6, 8)
ASKER_ID = 6  # asks for a deadline change
ROLES: dict[str, str] = {
    "admin": "admin@demo.portal",        # Дмитрий Соколов, the portal's administrator
    "head": "s.morozov@demo.portal",     # Сергей Морозов, head of «Торг-Комс»
    "deputy": "e.smirnova@demo.portal",  # Елена Смирнова, covering for Роман Кузнецов
    "employee": "m.orlov@demo.portal",   # Максим Орлов, marketing
}
EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})


def also(*roles: str) -> frozenset[str]:
    """The administrator (who sees every page) and ``roles``: a page is visited by the roles
    whose view of it differs (their home page, their own lists), not by everyone who may."""
    return ADMIN | frozenset(roles)


@dataclass(frozen=True)
class Page:
    """One page of the tour: a name for its screenshots, its path, who visits it, and the
    status it answers with."""

    name: str
    path: str
    roles: frozenset[str] = EVERYONE
    status: int = 200


PAGES: list[Page] = [
    Page("dashboard", "/"),
    Page("absences-calendar", "/absences/", also("employee")),
    Page("absences-mine", "/absences/mine", also("employee")),
    Page("absences-covering", "/absences/covering", also("deputy")),
    Page("absences-deputies", "/absences/deputies", also("head")),
    Page("absence-new", "/absences/new", also("employee")),
    Page("absence-edit", "/absences/{absence}/edit", ADMIN),
    Page("absence-cover", "/absences/{absence}/cover", also("deputy")),
    Page("teams", "/teams", also("head")),
    Page("team-new", "/teams/new", ADMIN),
    Page("team-edit", "/teams/{team}", ADMIN),
    Page("deliveries", "/deliveries", also("deputy")),
    Page("handovers", "/handovers/", also("head")),
    Page("handover-new", "/handovers/new?absence={absence}", ADMIN),
    Page("handover", "/handovers/{handover}", ADMIN),
    Page("transfers", "/transfers/", ADMIN),
    Page("transfer-new", "/transfers/new?user={dismissed}", ADMIN),
    Page("transfer", "/transfers/{transfer}", ADMIN),
    Page("transfer-spread", "/transfers/{spread}", ADMIN),
    Page("transfer-settings", "/transfers/settings", ADMIN),
    Page("deadline-policies", "/deadlines/policies", also("head")),
    Page("deadline-requests", "/deadlines/requests", also("employee")),
    Page("deadline-request-new", "/deadlines/requests/new", also("employee")),
    Page("deadline-request", "/deadlines/requests/{deadline_request}", also("head")),
    Page("deadline-report", "/deadlines/report", also("head", "employee")),
    Page("visit-report-new", "/distribution/reports/new", ADMIN),
    Page("visit-report", "/distribution/reports/{visit_report}", ADMIN),
    Page("distribution-settings", "/distribution/settings", ADMIN),
    Page("distribution-report", "/distribution/report", also("head")),
    Page("cadence", "/cadence/", also("employee")),
    Page("cadence-settings", "/cadence/settings", ADMIN),
    Page("robots", "/robots/", also("head")),
    Page("robot-new", "/robots/new", ADMIN),
    Page("robot-runs", "/robots/runs", ADMIN),
    Page("users", "/users", also("head")),
    Page("events", "/events", ADMIN),
    Page("tokens", "/tokens", also("employee")),
    Page("not-found", "/no-such-page", ADMIN, status=404),
]

# Latin words a Russian page may show besides the portal's own data.
# "E-mail" is how the portal itself writes it in Russian.
ALLOWED_LATIN = {"Cover", "EN", "RU", "API", "CSV", "ID", "URL", "REST", "OAuth", "SVG", "E-mail",
                 "e-mail"}


def portal_words() -> set[str]:
    """Latin words in the demo portal's data (product, company and client names): what the
    portal's people typed is shown as they typed it."""
    words: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            words.update(re.findall(r"[A-Za-z][A-Za-z-]*", value))

    for path in sorted((ROOT / "fixtures" / "demo").glob("*.yaml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return words


def stage(server: LiveServer) -> dict[str, int]:
    """The records the pages with ids show: Роман Кузнецов away this week with Елена Смирнова
    as his deputy, the handover of his clients prepared, a team, Мария Григорьева
    dismissed with a transfer of her work prepared, and a lead's visit report on the demo's
    three service lines."""
    from portal_ext.absences.services import AbsenceInput, create_absence
    from portal_ext.directory.models import PortalUser
    from portal_ext.extensions import db
    from portal_ext.handover.services import preview_handover
    from portal_ext.notifications.teams import create_team
    from portal_ext.portal.clock import portal_now, portal_zone
    from portal_ext.portal.registration import client_for, current_portal
    from portal_ext.transfers import services as transfers

    server.sim.call("user.update", {"ID": DISMISSED_ID, "ACTIVE": "N"})
    with server.app.app_context():
        portal = current_portal()
        client = client_for(portal)
        now = portal_now(client)
        admin = db.session.scalars(db.select(PortalUser).where(
            PortalUser.portal_id == portal.id, PortalUser.portal_user_id == ADMIN_ID)).one()
        absence = create_absence(portal=portal, actor=admin, data=AbsenceInput(
            user_id=AWAY_ID, start=now - timedelta(hours=1), end=now + timedelta(days=6),
            kind="vacation", deputy_id=DEPUTY_ID), now=now, tz=portal_zone())
        handover = preview_handover(portal=portal, client=client, actor=admin,
                                    absence_id=absence.id, include_closed=False, now=now,
                                    types=["lead", "deal", "contact", "company", "task"])
        team = create_team(portal=portal, actor=admin, name="Продажи контейнеров",
                           kinds=["new_lead", "deal_change"],
                           members=[DEPUTY_ID, AWAY_ID], now=now)
        transfer = transfers.create_transfer(
            portal=portal, client=client, actor=admin,
            data=transfers.TransferInput(user_id=DISMISSED_ID, strategy="head"), now=now)
        server.sim.call("user.update", {"ID": SPREAD_ID, "ACTIVE": "N"})
        spread = transfers.create_transfer(
            portal=portal, client=client, actor=admin, now=now,
            data=transfers.TransferInput(user_id=SPREAD_ID, strategy="spread",
                                         successors=list(SPREAD_OVER),
                                         types=["lead", "deal", "company"]))
        db.session.commit()
        from portal_ext.distribution import services as distribution
        from portal_ext.distribution.demo_setup import set_up_demo

        set_up_demo(portal=portal, client=client, actor=admin, now=now)
        lead = server.sim.call("crm.lead.add", {"fields": {
            "TITLE": "Стройкомплект", "NAME": "Анна", "COMPANY_TITLE": "ООО «Стройкомплект»",
            "STATUS_ID": "NEW"}})["result"]
        visit, _ = distribution.submit_report(
            portal=portal, client=client, actor=admin, now=now, data=distribution.ReportInput(
                lead_id=int(lead), line_ids=[line.id for line in distribution.lines(portal.id)],
                comment="Нужны все три направления"))
        deadline_request = _stage_deadline_request(server, portal, admin, now)
        return {"absence": int(absence.id), "handover": int(handover.id), "team": int(team.id),
                "transfer": int(transfer.id), "dismissed": DISMISSED_ID,
                "visit_report": int(visit.id), "deadline_request": deadline_request,
                "spread": int(spread.id)}


def _stage_deadline_request(server: LiveServer, portal: Any, admin: Any, now: Any) -> int:
    """Алексей Фёдоров asks his head, Сергей Морозов, to move a deadline (approval required):
    the request waits for his decision."""
    from datetime import UTC

    from portal_ext.context import for_portal
    from portal_ext.deadlines import services as deadlines
    from portal_ext.directory.models import PortalUser
    from portal_ext.extensions import db

    deadlines.set_policy(for_portal(portal, actor=admin, now=now), "default",
                         {"mode": "approval_required"})
    due = now + timedelta(days=3)
    task = server.sim.call("tasks.task.add", {"fields": {
        "TITLE": "Подготовить КП по тендеру", "RESPONSIBLE_ID": ASKER_ID,
        "DEADLINE": due.replace(tzinfo=UTC).isoformat()}}, user_id=HEAD_ID)
    asker = db.session.scalars(db.select(PortalUser).where(
        PortalUser.portal_id == portal.id, PortalUser.portal_user_id == ASKER_ID)).one()
    request = deadlines.create_request(
        for_portal(portal, actor=asker, now=now), task_id=int(task["result"]["task"]["id"]),
        new_deadline=(due + timedelta(days=2)).replace(tzinfo=UTC).isoformat(),
        reason="Поставщик задерживает отгрузку на два дня")
    return int(request.id)


# -- what the tour looks at, in the page ------------------------------------------------------
MENU_REACH = """() => {
  const menu = document.querySelector('#menu');
  if (!menu) return ['no menu'];
  const box = menu.getBoundingClientRect();
  const scrolls = menu.scrollHeight > menu.clientHeight + 1
    && ['auto', 'scroll'].includes(getComputedStyle(menu).overflowY);
  const problems = [];
  for (const link of menu.querySelectorAll('li a')) {
    const r = link.getBoundingClientRect();
    const name = link.textContent.trim();
    if (r.width === 0 || r.height === 0) { problems.push(name + ': not shown'); continue; }
    if (link.scrollWidth > link.clientWidth + 1) problems.push(name + ': clipped');
    if (r.left < box.left - 1 || r.right > box.right + 1 || r.right > innerWidth + 1)
      problems.push(name + ': out of view sideways');
    const below = r.bottom > Math.min(box.bottom, innerHeight) + 1;
    if (below && !scrolls) problems.push(name + ': below the fold, the menu does not scroll');
  }
  return problems;
}"""

VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || el.closest('script, style, noscript, template, code, pre, kbd, [lang="en"], '
                           + '[translate="no"]')) continue;
    if (!el.checkVisibility()) continue;
    out.push(node.textContent);
  }
  for (const el of document.querySelectorAll('input[placeholder], [aria-label]')) {
    if (el.closest('[lang="en"]')) continue;
    out.push(el.getAttribute('placeholder') || '', el.getAttribute('aria-label') || '');
  }
  out.push(document.title);
  return out.join(' ');
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' -- '
               + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""


def english_words(text: str, allowed: set[str]) -> list[str]:
    """Latin words in ``text`` that are not addresses, codes or allowed names."""
    text = re.sub(r"\S+@\S+|https?://\S+|\b[\w-]+(\.[\w-]+)+(:\d+)?\S*", " ", text)
    words = re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]", text)
    return sorted({w for w in words if w not in allowed and not w.isupper() and len(w) > 1})


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, what: str, details: Iterable[str]) -> None:
        details = list(details)
        if details:
            self.problems.append(f"{where}: {what}: " + "; ".join(details))


class Session:
    """One person's visit in one language: a browser context, its console, its findings."""

    def __init__(self, browser: Any, server: LiveServer, role: str, lang: str,
                 findings: Findings, axe_source: str) -> None:
        self.server, self.role, self.lang = server, role, lang
        self.findings, self.axe_source = findings, axe_source
        self.context = browser.new_context(locale="ru-RU" if lang == "ru" else "en-US",
                                           viewport={"width": WIDTHS[0], "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.console.append(f"script error: {e}"))

    def log_in(self) -> None:
        from playwright.sync_api import expect

        page, url = self.page, self.server.url
        page.goto(url + "/auth/login")
        self.check("login", WIDTHS[0], expect_status=None)
        page.locator("main a.button").click()
        expect(page).to_have_url(re.compile(r"/oauth/authorize/\?client_id="))
        page.fill("#email", ROLES[self.role])
        page.fill("#password", "demo")
        page.locator("button[type=submit]").click()
        expect(page).to_have_url(url + "/")
        if self.lang == "ru" and page.locator("html").get_attribute("lang") != "ru":
            page.locator(".lang-switch button[value=ru]").click()
        expect(page.locator("html")).to_have_attribute("lang", self.lang)

    def visit(self, entry: Page, ids: dict[str, int], width: int) -> None:
        self.console.clear()
        response = self.page.goto(self.server.url + entry.path.format(**ids))
        status = response.status if response is not None else 0
        where = f"{self.role}/{self.lang}/{width}/{entry.name}"
        if status != entry.status:
            self.findings.add(where, "status", [f"{status}, expected {entry.status}"])
        self.check(entry.name, width, expect_status=entry.status)

    def check(self, name: str, width: int, *, expect_status: int | None) -> None:
        page, where = self.page, f"{self.role}/{self.lang}/{width}/{name}"
        page.wait_for_load_state("load")
        if width < 600:
            overflow = page.evaluate("() => [document.scrollingElement.scrollWidth, "
                                     "document.scrollingElement.clientWidth]")
            if overflow[0] > overflow[1]:
                wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
                  .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
                  .slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className)""")
                self.findings.add(where, "page scrolls sideways",
                                  [f"{overflow[0]} > {overflow[1]} px", *wide])
        if self.lang == "ru":
            self.findings.add(where, "English words", english_words(
                page.evaluate(VISIBLE_TEXT), ALLOWED_LATIN | PORTAL_WORDS))
        if page.evaluate("() => typeof window.axe") == "undefined":
            page.evaluate(self.axe_source)
        self.findings.add(where, "axe", page.evaluate(AXE_RUN))
        errors = [m for m in self.console
                  if not (expect_status and f"status of {expect_status}" in m)]
        self.findings.add(where, "console errors", errors)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{self.role}-{self.lang}-{width}-{name}.png"),
                        full_page=True)

    def check_menu(self, width: int) -> None:
        page, where = self.page, f"{self.role}/{self.lang}/{width}/menu"
        page.goto(self.server.url + "/")
        if width < 900:
            button = page.locator(".menu-button")
            if not button.is_visible():
                self.findings.add(where, "menu", ["no visible menu button"])
                return
            button.click()
            page.wait_for_function("() => document.querySelector('#menu')"
                                   " && document.querySelector('#menu').checkVisibility()")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{self.role}-{self.lang}-{width}-menu.png"))
        self.findings.add(where, "menu items out of reach", page.evaluate(MENU_REACH))

    def close(self) -> None:
        self.context.close()


PORTAL_WORDS: set[str] = set()


@pytest.mark.parametrize("role", list(ROLES))  # one test per role: two processes share them
def test_every_page_as_every_role_in_both_languages_at_both_widths(
        live_server: LiveServer, role: str) -> None:
    require(CHROMIUM.exists() or shutil.which("chromium") is not None,
            "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    PORTAL_WORDS.update(portal_words())
    ids = stage(live_server)
    axe_source = AXE.read_text(encoding="utf-8")
    findings = Findings()
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS)
        try:
            for lang in LANGUAGES:
                session = Session(browser, live_server, role, lang, findings, axe_source)
                try:
                    session.log_in()
                    for width in WIDTHS:
                        session.page.set_viewport_size({"width": width, "height": 900})
                        session.check_menu(width)
                        for entry in PAGES:
                            if role in entry.roles:
                                session.visit(entry, ids, width)
                finally:
                    session.close()
        finally:
            browser.close()
    took = time.monotonic() - started
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    report = SCREENSHOTS / f"findings-{role}.txt"
    report.write_text("".join(f"{p}\n" for p in findings.problems) or "no problems\n",
                      encoding="utf-8")
    assert not findings.problems, (f"{len(findings.problems)} problems in {took:.0f} s:\n"
                                   + "\n".join(findings.problems))

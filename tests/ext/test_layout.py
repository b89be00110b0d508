"""The frame of every page: the left menu grouped by domain with a menu button for narrow
screens, one product name, and the formats every page shares (times, numbers, percents,
portal event codes as words with the code on hover), in English and Russian."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.ext.oauth_login import LoginAs

ADMIN = "admin@demo.portal"
EMPLOYEE = "m.orlov@demo.portal"


def _menu(page: str) -> list[tuple[str, list[str]]]:
    """(group heading, item labels) of the page's left menu, in order."""
    menu = page.split('<nav id="menu"', 1)[1].split("</nav>", 1)[0]
    groups = re.findall(r'<h2 class="menu-group"[^>]*>([^<]+)</h2>\s*<ul[^>]*>(.*?)</ul>', menu,
                        re.S)
    return [(title, re.findall(r"<a [^>]*>([^<]+)</a>", items)) for title, items in groups]


def test_the_menu_is_grouped_by_domain_and_opens_from_a_menu_button(
        client: FlaskClient, login_as: LoginAs) -> None:
    login_as(client, ADMIN)
    page = client.get("/").get_data(as_text=True)
    menu = dict(_menu(page))
    assert list(menu) == ["Home", "Absences", "Notifications", "Handover", "Transfers",
                          "Deadlines", "Distribution", "Clients", "Administration", "My account"]
    assert menu["Deadlines"] == ["Deadline requests", "Deadline policies", "Postponements",
                                 "Stage robots", "Robot runs"]
    assert menu["Absences"] == ["Calendar", "My absences", "I cover", "Standing deputies"]
    assert menu["Administration"] == ["Events", "Users", "Portal application"]
    assert 'class="menu-button" href="#menu"' in page
    assert "<title>Dashboard · Cover</title>" in page


def test_an_employee_sees_only_their_groups_in_russian(client: FlaskClient,
                                                       login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    client.post("/language", data={"lang": "ru", "next": "/"})
    page = client.get("/").get_data(as_text=True)
    groups = [title for title, _ in _menu(page)]
    assert groups == ["Главное", "Отсутствия", "Уведомления", "Сроки задач", "Клиенты",
                      "Мой профиль"]
    assert ">Меню<" in page and "Выйти" in page


@pytest.mark.parametrize(("lang", "event", "entity", "share"), [
    ("en", "Lead: added", "Notification no. 16", "100%"),
    ("ru", "Лид: создание", "Уведомление № 16", "100\xa0%"),
])
def test_codes_become_words_with_the_code_on_hover(app: Flask, lang: str, event: str,
                                                   entity: str, share: str) -> None:
    from flask import session

    from portal_ext import i18n

    with app.test_request_context():
        session[i18n.SESSION_KEY] = lang
        label = str(i18n.event_label("ONCRMLEADADD"))
        assert label == f'<abbr class="code" title="ONCRMLEADADD">{event}</abbr>'
        assert f">{entity}<" in str(i18n.entity_label("NOTIFICATION", 16))
        assert i18n.percent(100.0) == share
        assert str(i18n.event_label("ONSOMETHINGODD")) == (
            '<abbr class="code" title="ONSOMETHINGODD">ONSOMETHINGODD</abbr>')


def test_times_are_written_one_way(app: Flask, t0: datetime) -> None:
    from flask import session

    from portal_ext import i18n

    with app.test_request_context():
        session[i18n.SESSION_KEY] = "en"
        written = i18n.portal_time(t0)
        assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:00", written), written

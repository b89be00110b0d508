"""The UI speaks English and Russian: the visitor's choice, else the browser's language."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations
from flask.testing import FlaskClient

from tests.ext.oauth_login import LoginAs, path_of

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "portal_ext" / "translations"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def _page(client: FlaskClient, path: str, **headers: str) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _switch(client: FlaskClient, language: str, back_to: str = "/auth/login") -> str:
    response = client.post("/language", data={"lang": language, "next": back_to})
    assert response.status_code == 302
    return path_of(response.headers["Location"])


def test_english_by_default(client: FlaskClient) -> None:
    page = _page(client, "/auth/login")
    assert '<html lang="en">' in page and "Log in with the portal" in page


def test_browser_language_is_used_before_any_choice(client: FlaskClient) -> None:
    page = _page(client, "/auth/login", **{"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru">' in page
    assert "Войти через портал" in page and "Log in with the portal" not in page
    other = _page(client, "/auth/login", **{"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="en">' in other


def test_switching_language_works_without_login(client: FlaskClient) -> None:
    assert _switch(client, "ru") == "/auth/login"
    assert "Войти через портал" in _page(client, "/auth/login")
    # The choice beats the browser's language, both ways.
    assert "Войти через портал" in _page(client, "/auth/login", **{"Accept-Language": "en"})
    _switch(client, "en")
    assert "Log in with the portal" in _page(client, "/auth/login", **{"Accept-Language": "ru"})


def test_unknown_language_or_foreign_return_address_is_ignored(client: FlaskClient) -> None:
    assert _switch(client, "fr", back_to="https://evil.example/") == "/"
    assert '<html lang="en">' in _page(client, "/auth/login")


def test_language_survives_login_and_logout(client: FlaskClient, login_as: LoginAs) -> None:
    _switch(client, "ru")
    login_as(client, "admin@demo.portal")
    page = _page(client, "/")
    for russian in ("Сводка", "События", "Сотрудники", "API-токены", "Подключение к порталу",
                    "Синхронизировано сотрудников", "Выйти"):
        assert russian in page, russian
    for english in ("Dashboard", "Synced users", "Portal connection", "Log out"):
        assert english not in page, english
    client.post("/auth/logout")
    assert "Войти через портал" in _page(client, "/auth/login")


def test_pages_are_russian_throughout(client: FlaskClient, login_as: LoginAs) -> None:
    _switch(client, "ru")
    login_as(client, "admin@demo.portal")
    users = _page(client, "/users")
    assert "Имя и фамилия" in users and "руководитель" in users and "Работает" in users
    events = _page(client, "/events")
    assert "Событий пока не было." in events or "Нет событий" in events
    client.post("/tokens", data={"name": "скрипт"})
    tokens = _page(client, "/tokens")
    assert "Выдать токен" in tokens and "Действует" in tokens
    assert "Доступ запрещён" not in tokens
    login_as(client, "m.orlov@demo.portal")
    denied = client.get("/events").get_data(as_text=True)
    assert "Доступ запрещён" in denied


def _extracted() -> set[tuple[str | None, str]]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: set[tuple[str | None, str]] = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        found.add((context, msgid))
    return found


def test_every_string_of_the_extension_has_a_russian_translation() -> None:
    """Fails when a string was added without updating the catalog (see portal_ext/i18n.py)."""
    with (TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale="ru")
    strings = _extracted()
    assert len(strings) > 100
    missing = []
    for context, msgid in sorted(strings, key=lambda s: (s[0] or "", s[1])):
        entry = catalog.get(msgid, context=context)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(f"{context}|{msgid}" if context else msgid)
    assert missing == [], "untranslated; run the pybabel commands in portal_ext/i18n.py"


def test_compiled_catalogs_match_their_sources() -> None:
    for language in ("en", "ru"):
        with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
            catalog = read_po(source, locale=language)
        compiled = Translations.load(str(TRANSLATIONS), [language])
        for message in catalog:
            if not isinstance(message.id, str) or not isinstance(message.string, str):
                continue  # the header, or a plural form
            if not message.id or not message.string or message.fuzzy:
                continue
            got = (compiled.pgettext(message.context, message.id) if message.context
                   else compiled.gettext(message.id))
            assert got == message.string, f"{language}: recompile ({message.id!r})"

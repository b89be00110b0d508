"""Which language a page speaks: the visitor's own choice, else the browser's, else English.
Times on pages are shown in the portal's time zone.

What the extension writes into the portal (copies of notifications, summaries of handovers and
transfers) speaks its *reader's* language (:func:`reader_language`): the portal does not tell an
application which language a person reads, so it is the language the person last chose on the
extension's pages (kept with the user: switching the language, or logging in with one chosen),
else the portal's language setting ``PORTAL_LANGUAGE`` (``ru`` by default: a Russian portal).

The choice is kept in the session (``session["lang"]``) so it works before logging in, and
survives logging in and out (see portal_ext.blueprints.auth).

Catalogs live in ``portal_ext/translations/<lang>/LC_MESSAGES/messages.{po,mo}``; babel.cfg at
the repository root says where the strings are. After changing strings::

    pybabel extract -F babel.cfg -k _l -k lazy_gettext -o portal_ext/translations/messages.pot .
    pybabel update -i portal_ext/translations/messages.pot -d portal_ext/translations
    # translate the new entries in portal_ext/translations/ru/LC_MESSAGES/messages.po, then
    pybabel compile -d portal_ext/translations

The compiled ``.mo`` files are committed, so running the app needs no build step.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

from flask import Flask, current_app, has_app_context, has_request_context, request, session
from flask_babel import format_datetime, format_decimal, format_percent, get_locale, lazy_pgettext
from flask_babel import gettext as _
from markupsafe import Markup

LANGUAGES: dict[str, str] = {"en": "English", "ru": "Русский"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "lang"


class Reader(Protocol):
    language: str | None


def portal_language() -> str:
    """The portal's language setting (``PORTAL_LANGUAGE``): what someone who never chose a
    language on the extension's pages reads."""
    language = "ru"
    if has_app_context():
        language = str(current_app.config.get("PORTAL_LANGUAGE") or "ru").strip().lower()
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def reader_language(reader: Reader | None) -> str:
    """The language to write to ``reader`` in: their own last choice, else the portal's."""
    chosen = reader.language if reader is not None else None
    return chosen if chosen in LANGUAGES else portal_language()


def remember_language(user: Reader) -> bool:
    """At login: a language chosen before logging in becomes the user's; without one, the
    user's own choice becomes the session's. True when the user changed (the caller commits)."""
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES and chosen != user.language:
        user.language = str(chosen)
        return True
    if chosen not in LANGUAGES and user.language in LANGUAGES:
        session[SESSION_KEY] = user.language
    return False


def select_locale() -> str:
    """Flask-Babel's locale selector (English outside a request: CLI, Celery)."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE


def select_timezone() -> str:
    """Flask-Babel's time-zone selector: every time on a page is the portal's local time
    (``PORTAL_TIMEZONE``), whoever looks at it; the database keeps UTC."""
    from portal_ext.portal.clock import portal_zone

    return str(portal_zone())


def portal_time(value: datetime | None) -> str:
    """A stored (naive UTC) time in the portal's zone, ``14 Dec 2026, 09:30``."""
    return "" if value is None else format_datetime(value, "d MMM yyyy, HH:mm")


def number(value: Any) -> str:
    """A count or amount by the locale: ``12,345`` / ``12 345``."""
    return "" if value is None else format_decimal(value)


def percent(value: Any) -> str:
    """A share of 0..100 by the locale, whole percent: ``42%`` / ``42 %`` (never ``100.0%``)."""
    return "" if value is None else format_percent(float(value) / 100)


# The portal's event codes in words: ONCRMLEADADD -> "Lead: added" with the code on hover.
_EVENT = re.compile(r"^ON(CRM)?(?P<entity>[A-Z_]+?)(?P<action>ADD|UPDATE|DELETE|SETSTATUS|"
                    r"MOVETOCATEGORY|START|END|INSTALL|UNINSTALL|TEST|PAYMENT)$")
_ENTITY_CODES = {"DYNAMICITEM": "DYNAMIC_ITEM", "TASKCOMMENT": "TASK_COMMENT",
                 "CALENDARENTRY": "CALENDAR_ENTRY", "IMNOTIFY": "NOTIFICATION",
                 "TIMELINECOMMENT": "TIMELINE_COMMENT"}
_OBJECT, _EVENT_WORD = "portal object", "portal event"
ENTITY_LABELS: dict[str, Any] = {
    "LEAD": lazy_pgettext(_OBJECT, "Lead"),
    "DEAL": lazy_pgettext(_OBJECT, "Deal"),
    "CONTACT": lazy_pgettext(_OBJECT, "Contact"),
    "COMPANY": lazy_pgettext(_OBJECT, "Company"),
    "QUOTE": lazy_pgettext(_OBJECT, "Quote"),
    "INVOICE": lazy_pgettext(_OBJECT, "Invoice"),
    "DYNAMIC_ITEM": lazy_pgettext(_OBJECT, "CRM item"),
    "ACTIVITY": lazy_pgettext(_OBJECT, "Activity"),
    "TIMELINE_COMMENT": lazy_pgettext(_OBJECT, "Timeline comment"),
    "TASK": lazy_pgettext(_OBJECT, "Task"),
    "TASK_COMMENT": lazy_pgettext(_OBJECT, "Task comment"),
    "USER": lazy_pgettext(_OBJECT, "Employee"),
    "CALENDAR_ENTRY": lazy_pgettext(_OBJECT, "Calendar entry"),
    "NOTIFICATION": lazy_pgettext(_OBJECT, "Notification"),
    "ABSENCE": lazy_pgettext(_OBJECT, "Absence"),
    "APP": lazy_pgettext(_OBJECT, "Application"),
    "OFFLINEEVENT": lazy_pgettext(_OBJECT, "Offline event"),
}
ACTION_LABELS: dict[str, Any] = {
    "ADD": lazy_pgettext(_EVENT_WORD, "added"),
    "UPDATE": lazy_pgettext(_EVENT_WORD, "changed"),
    "DELETE": lazy_pgettext(_EVENT_WORD, "deleted"),
    "SETSTATUS": lazy_pgettext(_EVENT_WORD, "status changed"),
    "MOVETOCATEGORY": lazy_pgettext(_EVENT_WORD, "moved to another pipeline"),
    "START": lazy_pgettext(_EVENT_WORD, "started"),
    "END": lazy_pgettext(_EVENT_WORD, "ended"),
    "INSTALL": lazy_pgettext(_EVENT_WORD, "installed"),
    "UNINSTALL": lazy_pgettext(_EVENT_WORD, "removed"),
    "TEST": lazy_pgettext(_EVENT_WORD, "test"),
    "PAYMENT": lazy_pgettext(_EVENT_WORD, "paid"),
}


def _code(code: str, words: str) -> Markup:
    return Markup('<abbr class="code" title="{}">{}</abbr>').format(code, words)


def event_words(name: Any) -> str:
    """A portal event code as words (``Lead: added``), the code itself when it is unknown."""
    code = str(name or "").upper()
    found = _EVENT.match(code)
    if found is None:
        return code
    entity = _ENTITY_CODES.get(found["entity"], found["entity"])
    entity_words = ENTITY_LABELS.get(entity)
    action_words = ACTION_LABELS.get(found["action"])
    if entity_words is None or action_words is None:
        return code
    return str(_("%(entity)s: %(action)s", entity=entity_words, action=action_words))


def event_label(name: Any) -> Markup:
    """A portal event code as words, the code on hover."""
    code = str(name or "").upper()
    return _code(code, event_words(code))


def entity_label(entity_type: Any, entity_id: Any = None) -> Markup:
    """A portal object as words (``Notification no. 16``), its code on hover."""
    code = str(entity_type or "").upper()
    words = str(ENTITY_LABELS.get(_ENTITY_CODES.get(code, code), code))
    if entity_id is None:
        return _code(code, words)
    return _code(f"{code} #{entity_id}", _("%(entity)s no. %(id)s", entity=words,
                                            id=entity_id))


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def init_app(app: Flask) -> None:
    """Attach the locale selector to the shared Babel object and expose the language to
    templates (``current_locale``)."""
    from portal_ext.extensions import babel

    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)

    app.add_template_filter(portal_time)
    app.add_template_filter(number)
    app.add_template_filter(percent)
    app.add_template_filter(event_label)
    app.add_template_filter(entity_label)

    @app.context_processor
    def _language() -> dict[str, object]:
        return {"current_locale": current_language(), "languages": LANGUAGES}

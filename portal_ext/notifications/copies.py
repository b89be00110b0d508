"""The text of a copy: whose notification it is, why this person gets it, the original, and a
link to the entity.

    [B]Copy[/B] for A. Ivanova, away until 14 Dec; you are the deputy; team Equipment sales.[BR]
    You have been made responsible for the lead "[URL=/crm/lead/details/7/]Boiler[/URL]"

Each copy is written in its recipient's language (portal_ext.i18n.reader_language): the one
they last chose on the extension's pages, else the portal's language setting ``PORTAL_LANGUAGE``
(``ru`` by default); the portal does not tell an application which language a user reads. A
notice the extension derived itself (REST mode) is said in that language too; the portal's own
notification is copied in its own words. Dates are in the portal's time zone
(``PORTAL_TIMEZONE``). The text uses the portal's BB codes ([B], [BR], [URL]).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from babel.dates import format_date
from flask_babel import force_locale, gettext

from portal_ext.notifications.rules import DEPUTY, Reason, Recipient
from portal_ext.notifications.sources import Notice

MARKER = "[B]{copy}[/B] "
ENTITY_PAGES = {
    "LEAD": "/crm/lead/details/{id}/", "DEAL": "/crm/deal/details/{id}/",
    "CONTACT": "/crm/contact/details/{id}/", "COMPANY": "/crm/company/details/{id}/",
    "QUOTE": "/crm/type/7/details/{id}/", "SMART_INVOICE": "/crm/type/31/details/{id}/",
    "TASK": "/company/personal/user/{owner}/tasks/task/view/{id}/",
}


def short_name(name: str, last_name: str, fallback: str) -> str:
    """``A. Ivanova``; the full first name when there is no last name."""
    name, last_name = name.strip(), last_name.strip()
    if name and last_name:
        return f"{name[0]}. {last_name}"
    return last_name or name or fallback


def entity_link(notice: Notice) -> str | None:
    page = ENTITY_PAGES.get(notice.entity_type or "")
    if page is None or notice.entity_id is None:
        return None
    return page.format(id=notice.entity_id, owner=notice.owner_id)


@lru_cache(maxsize=512)
def _day(day: date, language: str) -> str:
    return format_date(day, "d MMM", locale=language)


def last_day(until: datetime, tz: tzinfo) -> date:
    """The last local day an exclusive end still covers (an absence until 14 Dec inclusive
    ends at 15 Dec 00:00)."""
    return (until - timedelta(microseconds=1)).replace(tzinfo=UTC).astimezone(tz).date()


def _deputy_part(reason: Reason, names: Mapping[int, str], tz: tzinfo, language: str) -> str:
    parts = []
    if reason.until is not None:
        parts.append(gettext("away until %(day)s", day=_day(last_day(reason.until, tz),
                                                            language)))
    if reason.cover == "chain" and len(reason.path) >= 3:
        parts.append(gettext("you cover for the deputy %(name)s, who is away too",
                             name=names.get(reason.path[-2], f"#{reason.path[-2]}")))
    elif reason.cover == "head":
        parts.append(gettext("you head the department"))
    elif reason.cover == "admin":
        parts.append(gettext("you administer the portal"))
    else:
        parts.append(gettext("you are the deputy"))
    return "; ".join(parts)


def _team_part(reason: Reason, names: Mapping[int, str]) -> str:
    if reason.stands_in_for is not None:
        return gettext("team %(team)s, in place of %(name)s, who is away",
                       team=reason.team_name or "", name=names.get(reason.stands_in_for,
                                                                   f"#{reason.stands_in_for}"))
    return gettext("team %(team)s", team=reason.team_name or "")


def original(notice: Notice) -> str:
    """The copied notification's words: the portal's as they are, or, for a notice the
    extension derived itself, its phrase in the current language."""
    if notice.phrase is None:
        return notice.message.strip()
    msgid, values = notice.phrase
    return gettext(msgid, **{name: gettext(value) if name == "noun" else value
                             for name, value in values}).strip()


def copy_message(notice: Notice, recipient: Recipient, *, names: Mapping[int, str],
                 tz: tzinfo, language: str) -> str:
    """The copy's text for ``recipient`` (see the module docstring)."""
    with force_locale(language):
        owner = names.get(notice.owner_id, f"#{notice.owner_id}")
        why = [(_deputy_part(r, names, tz, language) if r.kind == DEPUTY
                else _team_part(r, names)) for r in recipient.reasons]
        head = (MARKER.format(copy=gettext("Copy"))
                + gettext("for %(name)s", name=owner) + ", " + "; ".join(why) + ".")
        lines = [head, original(notice)]
        link = entity_link(notice)
        if link is not None and "[URL=" not in notice.message.upper():
            label = gettext("Open in the portal")
            lines.append(f"[URL={link}]{label}[/URL]")
    # [BR]: the portal's line break in notifications (a plain newline is not one everywhere).
    return "[BR]".join(line for line in lines if line)

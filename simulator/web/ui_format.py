"""How the portal's own pages say things: labels for codes, times in the portal's zone, and
the BB codes notifications are written in ([D] im-notify-system-add.md: MESSAGE takes BB
codes such as ``[B]``, ``[URL=...]``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from markupsafe import Markup, escape

# CRM lists of the portal's pages: url slug -> (entity type id, plural, singular, API name).
CRM_KINDS: dict[str, tuple[int, str, str, str]] = {
    "leads": (1, "Leads", "Lead", "LEAD"),
    "deals": (2, "Deals", "Deal", "DEAL"),
    "contacts": (3, "Contacts", "Contact", "CONTACT"),
    "companies": (4, "Companies", "Company", "COMPANY"),
    "quotes": (7, "Quotes", "Quote", "QUOTE"),
    "invoices": (31, "Invoices", "Invoice", "SMART_INVOICE"),
}
SLUG_BY_TYPE = {type_id: slug for slug, (type_id, *_rest) in CRM_KINDS.items()}
SLUG_BY_NAME = {name: slug for slug, (_t, _p, _s, name) in CRM_KINDS.items()}
ABBR = {1: "L", 2: "D", 3: "C", 4: "CO", 7: "Q", 31: "SI"}
TYPE_BY_ABBR = {abbr: type_id for type_id, abbr in ABBR.items()}

NOTICE_KINDS = {
    "crm_assigned": "Assigned to you", "task_assigned": "New task",
    "task_deadline_soon": "Deadline soon", "task_overdue": "Task overdue",
    "email_incoming": "Incoming e-mail", "task_comment": "Task comment", "message": "Message",
}
# Glyphs every common font has (no emoji font needed), one per kind of notice.
NOTICE_ICONS = {"crm_assigned": "➜", "task_assigned": "✔", "task_deadline_soon": "◷",
                "task_overdue": "!", "email_incoming": "✉", "task_comment": "✎",
                "message": "●"}
ACTIVITY_ICONS = {1: "⚑", 2: "☎", 4: "✉"}
TASK_STATUSES = {1: "New", 2: "Pending", 3: "In progress", 4: "Awaiting control",
                 5: "Completed", 6: "Deferred", 7: "Declined"}
TASK_PRIORITIES = {0: "Low", 1: "Normal", 2: "High"}
ACTIVITY_TYPES = {1: "Meeting", 2: "Call", 3: "Task", 4: "E-mail", 5: "Calendar", 6: "To-do"}
DIRECTIONS = {1: "incoming", 2: "outgoing"}
# The portal's telephony codes (SETTINGS.CALL_FAILED_CODE) and how a page shows them.
CALL_OUTCOMES = {"200": ("connected", "ok"), "304": ("missed", "bad"), "486": ("busy", "warn"),
                 "603": ("declined", "bad"), "480": ("unavailable", "warn")}
ABSENCE_TYPES = {"VACATION": "Vacation", "ASSIGNMENT": "Business trip", "LEAVESICK": "Sick leave",
                 "SICK": "Sick leave", "LEAVEMATERINITY": "Maternity leave",
                 "LEAVEUNPAYED": "Unpaid leave", "PERSONAL": "Personal", "OTHER": "Other",
                 "UNKNOWN": "Other"}
STAGES = {
    "NEW": "New", "IN_PROCESS": "In progress", "PROCESSED": "Processed",
    "CONVERTED": "Converted", "JUNK": "Junk", "PREPARATION": "Preparing documents",
    "PREPAYMENT_INVOICE": "Prepayment invoice", "EXECUTING": "In progress",
    "FINAL_INVOICE": "Final invoice", "WON": "Won", "LOSE": "Lost", "DRAFT": "Draft",
    "SENT": "Sent", "RECEIVED": "Received", "APPROVED": "Approved", "DECLINED": "Declined",
    "N": "New", "S": "Sent", "P": "Paid", "D": "Declined",
}
_GOOD = {"WON", "CONVERTED", "APPROVED", "P"}
_BAD = {"LOSE", "JUNK", "DECLINED", "D"}


def stage_code(stage: str | None) -> str:
    """``C1:WON`` -> ``WON``, ``DT31_1:P`` -> ``P``."""
    return (stage or "").rsplit(":", 1)[-1]


def stage_label(stage: str | None) -> str:
    code = stage_code(stage)
    return STAGES.get(code, code.replace("_", " ").title() if code else "")


def stage_tone(stage: str | None) -> str:
    code = stage_code(stage)
    return "ok" if code in _GOOD else "bad" if code in _BAD else "info"


def to_local(value: datetime | None, tz: tzinfo) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(tz)


def when(value: datetime | None, tz: tzinfo, *, seconds: bool = False) -> str:
    local = to_local(value, tz)
    if local is None:
        return ""
    return local.strftime("%d.%m.%Y %H:%M:%S" if seconds else "%d.%m.%Y %H:%M")


def ago(value: datetime | None, now: datetime) -> str:
    """``5 min ago``, ``in 3 days``: relative to portal time, not the wall clock."""
    if value is None:
        return ""
    delta = (now - value).total_seconds()
    future, delta = delta < 0, abs(delta)
    if delta < 45:
        return "just now"
    for size, unit in ((86400 * 30, "month"), (86400, "day"), (3600, "h"), (60, "min")):
        if delta >= size:
            count = int(delta // size)
            text = f"{count} {unit}" + ("s" if count > 1 and unit in ("day", "month") else "")
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def money(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}".replace(",", "\u202f") + " ₽"


def history_value(field: str, value: str | None, tz: tzinfo,
                  user_name: Callable[[int], str]) -> str:
    """A task log value for people: deadlines as dates, statuses and users by name."""
    if value is None or value == "":
        return "—"
    if field in ("DEADLINE", "START_DATE_PLAN", "END_DATE_PLAN") and value.isdigit():
        return when(datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None), tz)
    if field in ("STATUS", "REAL_STATUS") and value.isdigit():
        return TASK_STATUSES.get(int(value), value)
    if field in ("RESPONSIBLE_ID", "CREATED_BY") and value.isdigit():
        return user_name(int(value))
    if field in ("ALLOW_CHANGE_DEADLINE", "TASK_CONTROL"):
        return {"Y": "yes", "N": "no"}.get(value, value)
    if field == "COMMENT":
        return f"comment #{value}"
    return value


# -- BB codes ----------------------------------------------------------------------------------
_PORTAL_LINKS = (
    (re.compile(r"^/crm/(lead|deal|contact|company)/details/(\d+)/?$"),
     lambda m: ({"lead": "leads", "deal": "deals", "contact": "contacts",
                 "company": "companies"}[m[1]], int(m[2]))),
    (re.compile(r"^/crm/type/(7|31)/details/(\d+)/?$"),
     lambda m: ("quotes" if m[1] == "7" else "invoices", int(m[2]))),
    (re.compile(r"^/company/personal/user/\d+/tasks/task/view/(\d+)/?$"),
     lambda m: ("tasks", int(m[1]))),
)


def portal_link(url: str) -> tuple[str, int] | None:
    """A portal page address (``/crm/deal/details/5/``) -> (list slug, id) of our page."""
    for pattern, target in _PORTAL_LINKS:
        match = pattern.match(url.strip())
        if match:
            return target(match)
    return None


_TAG = re.compile(r"\[(/?)(b|i|u|s|br|url|user)(?:=([^\]]*))?\]", re.IGNORECASE)


def bbcode(text: str, link: Callable[[str], str | None]) -> Markup:
    """BB codes -> safe HTML. Text is escaped first; ``[URL=x]`` keeps only addresses that
    ``link`` can map to a page of ours or that are plain http(s) links."""
    out: list[str] = []
    pos = 0
    open_link = False
    for match in _TAG.finditer(text):
        out.append(str(escape(text[pos:match.start()])))
        pos = match.end()
        closing, tag, arg = match[1] == "/", match[2].lower(), match[3]
        if tag == "br":
            out.append("<br>")
        elif tag in ("b", "i", "u", "s"):
            out.append(f"<{'/' if closing else ''}{'strong' if tag == 'b' else tag}>")
        elif tag == "url" and not closing and arg:
            href = link(arg)
            if href:
                out.append(f'<a href="{escape(href)}">')
                open_link = True
        elif tag == "url" and closing and open_link:
            out.append("</a>")
            open_link = False
    out.append(str(escape(text[pos:])))
    if open_link:
        out.append("</a>")
    return Markup("".join(out))


def plain(text: str) -> str:
    """The message without BB codes (for titles and logs)."""
    return _TAG.sub("", text)


def json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value

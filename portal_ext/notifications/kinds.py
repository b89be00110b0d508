"""The kinds of notification a team can share, and how a portal notification maps onto them.

The portal labels its own notices (``crm_assigned``, ``task_assigned``, ``task_deadline_soon``,
``task_overdue``, ``email_incoming``, ``task_comment``; ``message`` for anything sent with
``im.notify.*``). Teams think in coarser, business terms: "a new lead", "a deal of ours",
"a deadline", "a client's e-mail", "a comment". :func:`team_kind` maps one onto the other.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

NEW_LEAD = "new_lead"
DEAL_CHANGE = "deal_change"
CLIENT_ASSIGNED = "client_assigned"
TASK_ASSIGNED = "task_assigned"
TASK_DEADLINE = "task_deadline"
INCOMING_EMAIL = "incoming_email"
COMMENT = "comment"
MESSAGE = "message"

# In the order the team form shows them.
TEAM_KINDS: tuple[str, ...] = (NEW_LEAD, DEAL_CHANGE, CLIENT_ASSIGNED, TASK_ASSIGNED,
                               TASK_DEADLINE, INCOMING_EMAIL, COMMENT, MESSAGE)

KIND_LABELS = {
    NEW_LEAD: _l("New lead"),
    DEAL_CHANGE: _l("Deal assigned"),
    CLIENT_ASSIGNED: _l("Contact, company, quote or invoice assigned"),
    TASK_ASSIGNED: _l("Task assigned"),
    TASK_DEADLINE: _l("Task deadline near or passed"),
    INCOMING_EMAIL: _l("Incoming client e-mail"),
    COMMENT: _l("Comment on a task"),
    MESSAGE: _l("Other message"),
}

# The portal's notice kinds (simulator.im.notices.KINDS mirrors the portal's).
PORTAL_KINDS: tuple[str, ...] = ("crm_assigned", "task_assigned", "task_deadline_soon",
                                 "task_overdue", "email_incoming", "task_comment", "message")


def team_kind(portal_kind: str | None, entity_type: str | None) -> str:
    """The team kind of a portal notification.

    >>> team_kind("crm_assigned", "LEAD"), team_kind("crm_assigned", "DEAL")
    ('new_lead', 'deal_change')
    >>> team_kind("task_overdue", "TASK"), team_kind("something_new", None)
    ('task_deadline', 'message')
    """
    entity = (entity_type or "").upper()
    if portal_kind == "crm_assigned":
        return {"LEAD": NEW_LEAD, "DEAL": DEAL_CHANGE}.get(entity, CLIENT_ASSIGNED)
    return {
        "task_assigned": TASK_ASSIGNED,
        "task_deadline_soon": TASK_DEADLINE,
        "task_overdue": TASK_DEADLINE,
        "email_incoming": INCOMING_EMAIL,
        "task_comment": COMMENT,
    }.get(portal_kind or "", MESSAGE)

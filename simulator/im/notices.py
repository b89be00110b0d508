"""Notifications: the per-user inbox behind ``im.notify.*`` and the portal's own notices.

Every notification, whoever sends it, goes through :func:`add_notification`, which publishes
``ONIMNOTIFYADD`` (an in-process event; the portal has no REST event for notifications) carrying
the whole notification, so an on-site module can see everything delivered to a user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete

from simulator.im import tables
from simulator.users import get_user

if TYPE_CHECKING:
    from simulator.core.context import Ctx

# Kinds of the portal's own notices (``kind`` column; ``message`` for im.notify calls).
KINDS = ("crm_assigned", "task_assigned", "task_deadline_soon", "task_overdue",
         "email_incoming", "task_comment", "message")


_N = tables.notifications
_REPLACED = delete(_N).where(_N.c.user_id == bindparam("b_user_id"),
                             _N.c.tag == bindparam("b_tag"))
_ADD = _N.insert()


def add_notification(ctx: Ctx, user_id: int, message: str, *, kind: str = "message",
                     notify_type: str = "portal", from_user_id: int | None = None,
                     tag: str | None = None, sub_tag: str | None = None,
                     entity_type: str | None = None, entity_id: int | None = None,
                     ) -> int | None:
    """Put a notification in ``user_id``'s inbox; returns its id, or None for a dismissed or
    unknown user (the portal delivers nothing to them). A notification with the same ``tag``
    replaces the user's older one, as ``im.notify.system.add`` documents."""
    user = get_user(ctx, user_id)
    if user is None or not user.active:
        return None
    if tag:
        ctx.conn.execute(_REPLACED, {"b_user_id": user_id, "b_tag": tag})
    row: dict[str, Any] = {
        "user_id": user_id, "from_user_id": from_user_id, "notify_type": notify_type,
        "kind": kind, "message": message, "tag": tag, "sub_tag": sub_tag,
        "entity_type": entity_type, "entity_id": entity_id, "created_at": ctx.now,
        "is_read": False,
    }
    inserted = ctx.conn.execute(_ADD, row).inserted_primary_key
    assert inserted is not None
    notification_id = int(inserted[0])
    payload = {**row, "id": notification_id, "created_at": ctx.iso(ctx.now)}
    ctx.emit("ONIMNOTIFYADD", data={"FIELDS": {"ID": str(notification_id)}},
             entity_type="NOTIFICATION", entity_id=notification_id, after=payload)
    return notification_id

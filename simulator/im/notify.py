"""Notifications sent through the REST API: ``im.notify.system.add``,
``im.notify.personal.add``, ``im.notify`` and ``im.notify.read``.

Facts mirrored (reference §10; [D] api-reference/chats/notifications/im-notify-system-add.md,
im-notify-personal-add.md, im-notify.md, im-notify-read.md):
- ``USER_ID`` and ``MESSAGE`` (trimmed) are required: ``USER_ID_EMPTY`` "User ID can't be
  empty", ``MESSAGE_EMPTY`` "Message can't be empty"; the answer is the notification id, or
  ``false`` when nothing was delivered (here: an unknown or dismissed recipient);
- a notification with the same ``TAG`` replaces the user's older ones; ``SUB_TAG`` is kept
  without a uniqueness check;
- ``ATTACH`` (object or JSON string) larger than 60,000 characters is ``ATTACH_OVERSIZE``
  (reference §10; one page of the docs says 30 KB), a value that is neither is ``ATTACH_ERROR``;
- ``im.notify.personal.add`` sends "on behalf of the current user"; ``im.notify`` takes
  ``TYPE`` USER (default, personal) or SYSTEM.
Every notification goes through simulator.im.notices (kind "message").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from simulator.core.listing import parse_bool
from simulator.core.registry import method
from simulator.im import tables
from simulator.im.errors import (
    AttachError,
    AttachOversize,
    MessageEmpty,
    ParamsError,
    UserIdEmpty,
)

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params

ATTACH_LIMIT = 60_000


def _attach_size(value: Any) -> int:
    if value in (None, "", [], {}):
        return 0
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise AttachError() from None
        if not isinstance(parsed, dict | list):
            raise AttachError()
        return len(value)
    if isinstance(value, dict | list):
        return len(json.dumps(value, ensure_ascii=False))
    raise AttachError()


def _send(ctx: Ctx, params: Params, *, notify_type: str) -> int | bool:
    try:
        user_id = int(str(params.get("USER_ID") or 0).strip())
    except ValueError:
        user_id = 0
    if user_id <= 0:
        raise UserIdEmpty()
    message = str(params.get("MESSAGE") or "").strip()
    if not message:
        raise MessageEmpty()
    if _attach_size(params.get("ATTACH")) > ATTACH_LIMIT:
        raise AttachOversize()
    notification_id = ctx.notify(
        user_id, message, kind="message", notify_type=notify_type,
        from_user_id=ctx.user_id if notify_type == "personal" else None,
        tag=str(params.get("TAG") or "") or None, sub_tag=str(params.get("SUB_TAG") or "") or None)
    return notification_id if notification_id is not None else False


@method("im.notify.system.add")
def im_notify_system_add(ctx: Ctx, params: Params) -> Any:
    return _send(ctx, params, notify_type="system")


@method("im.notify.personal.add")
def im_notify_personal_add(ctx: Ctx, params: Params) -> Any:
    return _send(ctx, params, notify_type="personal")


@method("im.notify")
def im_notify(ctx: Ctx, params: Params) -> Any:
    kind = str(params.get("TYPE") or "USER").strip().upper()
    return _send(ctx, params, notify_type="system" if kind == "SYSTEM" else "personal")


@method("im.notify.read")
def im_notify_read(ctx: Ctx, params: Params) -> Any:
    """Mark the caller's notification ``ID`` read; without ``ONLY_CURRENT=Y`` also every later
    one (ids >= ID), as the docs describe."""
    try:
        notification_id = int(str(params.get("ID") or 0).strip())
    except ValueError:
        notification_id = 0
    if notification_id <= 0:
        raise ParamsError()
    n = tables.notifications
    same = n.c.id == notification_id if parse_bool(params.get("ONLY_CURRENT")) \
        else n.c.id >= notification_id
    ctx.conn.execute(update(n).where(n.c.user_id == ctx.user_id, same).values(is_read=True))
    return True

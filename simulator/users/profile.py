"""``profile``: the calling user's basic data (scope ``basic``).

Returns ``ID`` (string), ``ADMIN`` (boolean), ``NAME``, ``LAST_NAME``, ``PERSONAL_GENDER``,
``PERSONAL_PHOTO`` (only when the user has one), ``TIME_ZONE`` and ``TIME_ZONE_OFFSET``.
Choice: ``TIME_ZONE`` is the user's own zone (usually empty: the portal's zone applies) and
``TIME_ZONE_OFFSET`` the user's offset from the portal's zone in seconds, so 0 unless the user
has a zone of their own.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from simulator.core.errors import NoAuth
from simulator.core.registry import method
from simulator.users.directory import get_user

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params


def _offset(ctx: Ctx, zone_name: str) -> int:
    if not zone_name:
        return 0
    try:
        own = ZoneInfo(zone_name)
    except (KeyError, ValueError):
        return 0
    now = ctx.now.replace(tzinfo=UTC)
    mine = now.astimezone(own).utcoffset()
    portal = now.astimezone(ctx.tz).utcoffset()
    return int((mine - portal).total_seconds()) if mine is not None and portal is not None else 0


@method("profile")
def profile(ctx: Ctx, params: Params) -> Any:
    row = get_user(ctx, ctx.user_id)
    if row is None:
        raise NoAuth()
    fields = row.fields or {}
    zone_name = str(fields.get("TIME_ZONE") or "")
    result: dict[str, Any] = {
        "ID": str(row.id), "ADMIN": bool(row.is_admin), "NAME": row.name,
        "LAST_NAME": row.last_name, "PERSONAL_GENDER": fields.get("PERSONAL_GENDER", ""),
    }
    if fields.get("PERSONAL_PHOTO"):
        result["PERSONAL_PHOTO"] = fields["PERSONAL_PHOTO"]
    result["TIME_ZONE"] = zone_name
    result["TIME_ZONE_OFFSET"] = _offset(ctx, zone_name)
    return result

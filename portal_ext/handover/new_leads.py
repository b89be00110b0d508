"""New leads that reached the deputy during the absence for the absent user's clients.

With the handover's option ``include_new_leads``, a restore first adopts them into the journal
as if the handover had moved them, so they go back to the owner with everything else (and are
reported the same way). A lead counts when it was created since the absence started, its
responsible is the deputy, and it names one of the handed-over companies or contacts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from portal_ext import moves
from portal_ext.absences.models import Absence
from portal_ext.extensions import db
from portal_ext.moves.engine import NOTE_NEW_LEAD
from portal_ext.moves.models import MoveBatch, MoveItem
from portal_ext.moves.portal_calls import list_rows
from portal_ext.moves.types import ENTITY_TYPES
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import portal_zone


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=UTC).astimezone(portal_zone()).isoformat(timespec="seconds")


def adopt_new_leads(batch: MoveBatch, *, client: PortalClient, now: datetime) -> int:
    """Journal the deputy's new leads for the owner's clients as moved; how many (committed)."""
    absence = db.session.get(Absence, batch.absence_id) if batch.absence_id else None
    since = absence.start if absence is not None else _since(batch.options or {})
    if since is None or batch.to_user_id is None:
        return 0
    clients = {(t, i) for t, i in db.session.execute(select(
        MoveItem.entity_type, MoveItem.entity_id).where(
        MoveItem.batch_id == batch.id, MoveItem.entity_type.in_(("company", "contact")),
        MoveItem.moved_at.is_not(None)))}
    if not clients:
        return 0
    known = set(db.session.scalars(select(MoveItem.entity_id).where(
        MoveItem.batch_id == batch.id, MoveItem.entity_type == "lead")))
    kind = ENTITY_TYPES["lead"]
    lead_kind = replace(kind, select=(*kind.select, "COMPANY_ID", "CONTACT_ID"))
    leads: list[tuple[int, str | None]] = []
    for row in list_rows(client, lead_kind, {"ASSIGNED_BY_ID": batch.to_user_id,
                                             ">=DATE_CREATE": _iso(since)}):
        lead_id = lead_kind.row_id(row)
        company, contact = _int(row.get("COMPANY_ID")), _int(row.get("CONTACT_ID"))
        if lead_id in known or not (("company", company) in clients
                                    or ("contact", contact) in clients):
            continue
        leads.append((lead_id, lead_kind.title(row) or None))
    if moves.journal_moved(batch, "lead", leads, now=now, note=NOTE_NEW_LEAD):
        db.session.commit()
    return len(leads)


def _since(options: dict[str, Any]) -> datetime | None:
    """Where a handover settled after its absence was deleted keeps the absence's start."""
    try:
        return datetime.fromisoformat(str(options["adopt_from"]))
    except (KeyError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "", "0", 0) else None
    except (TypeError, ValueError):
        return None

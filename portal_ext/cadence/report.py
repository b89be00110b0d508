"""The cadence report's rows as the API and the CSV give them (``GET /api/v1/cadence/report``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from portal_ext.cadence.models import CadenceCompany
from portal_ext.cadence.services import row_state

COLUMNS = ("company_id", "title", "url", "category", "responsible_id", "last_call_at",
           "last_email_at", "last_contact", "due_at", "state", "overdue", "days_overdue")


def row_json(row: CadenceCompany, *, today: date, url: str | None,
             iso: Callable[[datetime | None], str | None]) -> dict[str, Any]:
    standing = row_state(row, today)
    last = None
    if row.last_contact_at is not None:
        last = {"channel": row.last_channel, "direction": row.last_contact_direction,
                "by": row.last_contact_by, "bound_to": row.last_contact_bound,
                "at": iso(row.last_contact_at)}
    return {"company_id": row.company_id, "title": row.title, "url": url,
            "category": row.category, "responsible_id": row.responsible_id,
            "last_call_at": iso(row.last_call_at), "last_email_at": iso(row.last_email_at),
            "last_contact": last,
            "due_at": standing.due_at.isoformat() if standing.due_at else None,
            "state": standing.state, "overdue": standing.overdue,
            "days_overdue": standing.days_overdue}


def csv_cells(item: dict[str, Any]) -> list[str]:
    last = item["last_contact"] or {}
    contact = " ".join(str(v) for v in (last.get("channel"), last.get("direction"),
                                        last.get("by"), last.get("bound_to")) if v)
    cells = {**item, "last_contact": contact}
    return ["" if cells[c] is None else str(cells[c]).lower() if isinstance(cells[c], bool)
            else str(cells[c]) for c in COLUMNS]

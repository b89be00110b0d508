"""When a transfer may still be undone, and when a dismissal may leave the waiting list: pure
decisions, no database, no portal, no clock of their own (``now`` is an argument). Who
inherits which item is decided, just as purely, in portal_ext.transfers.strategies.

- An applied transfer may be undone until ``days`` (``TRANSFER_UNDO_DAYS``, 14 by default)
  after it was applied, that instant included; a transfer still moving, already undone,
  discarded or never applied may not (the services say why).
- A dismissal waits on the Transfers page while it is ``pending``; an administrator may take it
  off the list (nothing to transfer) only then. A transferred or closed one is off already.

Worked example, with 14 days: a transfer applied on 1 Dec at 09:30 may be undone until
15 Dec 09:30. On 15 Dec at 09:30 it still may; at 09:31 it no longer may. Had it been undone
on 3 Dec (state ``restored``), it could not be undone again on 4 Dec, although the period
runs. Ivanova's dismissal is ``pending``: it may be closed; once closed, closing it again
changes nothing (the page just shows the list).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from portal_ext.moves.models import APPLIED
from portal_ext.transfers.models import PENDING


def undo_deadline(applied_at: datetime | None, days: int) -> datetime | None:
    """The last instant a transfer applied at ``applied_at`` may be undone (None: never
    applied)."""
    return applied_at + timedelta(days=days) if applied_at else None


def may_undo(state: str, applied_at: datetime | None, *, now: datetime, days: int) -> bool:
    deadline = undo_deadline(applied_at, days)
    return state == APPLIED and deadline is not None and now <= deadline


def may_close(dismissal_state: str) -> bool:
    """Whether a dismissal in this state may be taken off the waiting list."""
    return dismissal_state == PENDING

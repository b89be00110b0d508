"""What becomes of an absence's handover when the absence is deleted or cut short.

- A handover nothing has moved for yet (a ``preview``, or a confirmed one still ``scheduled``
  for the absence's start) is discarded with its journal.
- A handover that moved items (``applying`` or ``applied``) is given back at once: whatever
  has not moved yet stays where it is, everything with the deputy starts going back to the
  owner (the restore job; the minute tick resumes it if the job is lost).

It applies when the absence is deleted (by a person, the API or the portal's absence chart),
when it is moved to another person, and when its end is brought forward to now or earlier. An
absence shortened to an end still ahead keeps its handover until that end (the tick restores
it then). ``move_batch.absence_id`` is a foreign key (``ON DELETE SET NULL``), so a handover
never points at a deleted absence, or at a new one that got the deleted one's id.

Nothing here calls the portal or commits: the caller's transaction holds the changes, and
:func:`start_restores` queues the restore jobs once it has committed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from portal_ext import moves
from portal_ext.absences.models import Absence
from portal_ext.extensions import db
from portal_ext.moves.models import (
    APPLIED,
    APPLYING,
    HANDOVER,
    PREVIEW,
    SCHEDULED,
    MoveBatch,
)
from portal_ext.portal.errors import PortalError

log = logging.getLogger(__name__)
NOT_STARTED = (PREVIEW, SCHEDULED)
MOVED_SOME = (APPLYING, APPLIED)


def settle_handovers(absence: Absence, *, now: datetime, gone: bool = True) -> list[int]:
    """Discard the absence's handovers that moved nothing and start giving back the ones that
    did (no commit); the ids of the batches to restore. ``gone``: the absence is being
    deleted (or now belongs to someone else); otherwise only an absence over by ``now``
    settles."""
    if not gone and absence.end > now:
        return []
    batches = list(db.session.scalars(select(MoveBatch).where(
        MoveBatch.portal_id == absence.portal_id, MoveBatch.kind == HANDOVER,
        MoveBatch.absence_id == absence.id,
        MoveBatch.state.in_((*NOT_STARTED, *MOVED_SOME)))))
    restoring: list[int] = []
    for batch in batches:
        if batch.state in NOT_STARTED:
            moves.discard(batch)
            continue
        moves.stop_pending(batch)
        options = dict(batch.options or {})
        if options.get("include_new_leads"):
            # The restore job adopts the new leads first; the absence may be gone by then.
            options["adopt_from"] = absence.start.isoformat()
        options["settled_at"] = now.isoformat()
        batch.options = options
        if gone:
            batch.live_key = None
        moves.start_restoring(batch, commit=False)
        restoring.append(batch.id)
    db.session.flush()
    return restoring


def settle_changed(absence: Absence, *, now: datetime, user_changed: bool) -> list[int]:
    """After an edit (no commit): an absence moved to another person settles as if deleted;
    one whose end is now or past settles its handover at once."""
    return settle_handovers(absence, now=now, gone=user_changed)


def start_restores(batch_ids: list[int]) -> None:
    """Queue the restore jobs of settled handovers (after the caller's commit)."""
    for batch_id in batch_ids:
        try:
            moves.queue_run(batch_id, restoring=True)
        except PortalError as exc:  # the minute tick resumes a restoring batch anyway
            db.session.rollback()
            log.warning("handover %s: restore not finished now (%s); the tick resumes it",
                        batch_id, exc)

"""Which absences can be handed over: pure decisions over the absences, handovers and people
given, no database, no portal, no clock of their own (``now`` is an argument).

An absence is offered for a handover to a viewer when all of these hold:

1. the viewer may hand over the absent user's items (an administrator: anyone; a department
   head: the people of the departments they head; the caller gives these as ``people``);
2. it is someone else's absence: nobody hands their own items over to their deputy from this
   list (their head or an administrator does);
3. it has not ended (``end`` after ``now``): a running absence still can be, a past one not;
4. it has no live handover yet (preview, scheduled, moving, with the deputy, giving back:
   ``LIVE_STATES``); a cancelled or given-back handover frees the absence again.

Worked example. Petrov (3) heads Sales: Ivanova (2) and Sidorova (4) are his people, and so
is he. It is 10 Dec, 10:00.

- Ivanova is away 9-14 Dec, no handover yet: offered (running, not ended).
- Sidorova is away 1-5 Dec: not offered (ended).
- Petrov himself is away 20-24 Dec: not offered to him (his own), but offered to an
  administrator, or to the head of the department above Sales.
- Kozlov (6), in Support, is away 12-13 Dec: not offered to Petrov (not his people).
- Ivanova's absence once handed over and given back (``restored``) is offered again; while
  that handover waits as a preview it is not (open the preview instead).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from portal_ext.moves.models import LIVE_STATES


def live_absences(batches: Iterable[Any]) -> set[int]:
    """Ids of the absences these handovers keep busy (a handover in a live state)."""
    return {b.absence_id for b in batches if b.state in LIVE_STATES}


def can_hand_over(absence: Any, *, viewer_id: int, people: Collection[int],
                  live: Collection[int], now: datetime) -> bool:
    """Whether ``absence`` is offered to the viewer (portal user ``viewer_id``, who may hand
    over the items of ``people``) for a new handover; ``live``: :func:`live_absences`."""
    return (absence.user_id in people and absence.user_id != viewer_id
            and absence.end > now and absence.id not in live)

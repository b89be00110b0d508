"""What happens inside the extension that other packages may react to, each signal declared
once here (blinker named signals, as Flask's own).

Three ways to act "after something happens", each for its own case:

- a **signal** (this module): one package tells whoever listens that something happened in the
  extension, inside the caller's transaction; a receiver writes through ``db.session``, does not
  commit and does not call the portal. Connect with ``@signals.<name>.connect`` in the reacting
  package's ``handlers.py``.
- a **job after the commit** (portal_ext.jobs.enqueue_after_commit): background work that must
  only see committed rows, and must not run at all if the transaction rolls back.
- a **portal event** (portal_ext.events.handlers.handles): the portal told us something (an
  ``ONCRM...`` or ``ONUSERUPDATE`` event), delivered once per event from the inbox.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

user_dismissed = _signals.signal("user-dismissed", doc="""\
A user of the portal was dismissed (active, now not), as the directory noticed.

Sender: the :class:`~portal_ext.portal.models.Portal`.
Arguments: ``user`` (the :class:`~portal_ext.directory.models.PortalUser`, already inactive,
its sessions ended), ``now`` (naive UTC), ``source`` (``"event"``: the directory re-read the
user on a portal event; ``"sync"``: a directory sync found the user inactive or gone).
When: as the directory writes the change, before its commit; once per change from active to
not. Real portals send no REST event when a user is dismissed, so this is where a dismissal is
noticed. A receiver may hear of the same dismissal another way too (an ``ONUSERUPDATE``
handler), so it must be idempotent.""")

__all__ = ["user_dismissed"]

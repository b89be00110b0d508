"""The handovers' refusals (portal_ext.errors.Refusal)."""

from __future__ import annotations

from portal_ext.errors import Refusal


class HandoverError(Refusal):
    """A refused handover request: bad input, not allowed, not found, or the wrong state (the
    absence already has a handover, or the handover is not in a state for this)."""

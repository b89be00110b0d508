"""The deadline guard's refusals (portal_ext.errors.Refusal)."""

from __future__ import annotations

from portal_ext.errors import Refusal


class DeadlineError(Refusal):
    """A refused policy change or deadline request; ``field`` names the input to blame."""

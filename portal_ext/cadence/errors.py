"""The cadence's refusals (portal_ext.errors.Refusal)."""

from __future__ import annotations

from portal_ext.errors import Refusal


class CadenceError(Refusal):
    """Invalid cadence settings or a refused cadence request; ``field`` names the input to
    blame."""

"""Lead distribution's refusals (portal_ext.errors.Refusal)."""

from __future__ import annotations

from portal_ext.errors import Refusal


class DistributionError(Refusal):
    """Invalid service lines, settings or visit report; ``field`` names the input to blame."""

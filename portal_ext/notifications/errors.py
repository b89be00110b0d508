"""The notifications' refusals (portal_ext.errors.Refusal)."""

from __future__ import annotations

from portal_ext.errors import Refusal


class TeamError(Refusal):
    """Invalid team input; ``field`` names the input to blame, ``message`` (a lazily
    translated string) says what is wrong."""

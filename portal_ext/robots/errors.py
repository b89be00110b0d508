"""The stage robots' refusals (portal_ext.errors.Refusal)."""

from __future__ import annotations

from portal_ext.errors import Refusal


class RobotError(Refusal):
    """A refused robot (its ``field`` names the input to blame; for a template, the message
    names the unknown placeholder) or a refused preview."""

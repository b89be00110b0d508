"""The transfers' refusals (portal_ext.errors.Refusal)."""

from __future__ import annotations

from portal_ext.errors import Refusal


class TransferError(Refusal):
    """A refused transfer request: bad input, not found, or a conflict with the transfer's
    state (``code`` ``expired`` when the undo period is over)."""


class PolicyError(Refusal):
    """Invalid transfer settings; ``field`` names the setting to blame."""


class NoSuccessor(Refusal):
    """Nobody can inherit (every candidate is dismissed, away, or the user); ``message`` is
    the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__("successors", reason)

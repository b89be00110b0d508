"""The absences' refusals (portal_ext.errors.Refusal)."""

from __future__ import annotations

from portal_ext.errors import FORBIDDEN, Refusal


class AbsenceError(Refusal):
    """A rejected absence or standing deputy: ``field`` is the input to blame, ``message`` says
    why (invalid, unless the user it is about does not exist: not found)."""


class NotAllowed(Refusal):
    """The actor may not touch this user's absences."""

    default_kind = FORBIDDEN

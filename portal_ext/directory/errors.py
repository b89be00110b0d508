"""The directory's refusals: none yet. It copies the portal's people and departments and
refuses nothing a user asks; a refusal it raises one day is declared here."""

from __future__ import annotations

"""Lead distribution reacts to no portal event yet: visit reports are submitted on the
extension's form or API."""

from __future__ import annotations

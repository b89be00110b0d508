"""The portal's refusals as people read them: plain text, and explained where known."""

from __future__ import annotations

import html
import re
from typing import Any

from flask_babel import lazy_gettext as _l

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# What the portal's refusals mean, for the ones the extension knows (lower case, no HTML).
_KNOWN: tuple[tuple[str, Any], ...] = (
    ('the user specified in the "assignee" field is not found', _l(
        "The portal no longer accepts the person as the responsible: they were dismissed or "
        "removed.")),
    ('user specified in the "assignee" field not found', _l(
        "The portal no longer accepts the person as the responsible: they were dismissed or "
        "removed.")),
    ("access denied", _l("The portal's account the extension uses may not change this "
                         "item.")),
    ("action on the task is not allowed", _l("The portal's account the extension uses may "
                                             "not change this task.")),
)


def clean(text: str | None) -> str:
    """The portal's message as plain text: tags dropped (a ``<br>`` between messages becomes
    a separator), entities decoded, spaces collapsed."""
    if not text:
        return ""
    parts = [_SPACE.sub(" ", html.unescape(_TAG.sub(" ", part))).strip()
             for part in re.split(r"<br\s*/?>", text, flags=re.IGNORECASE)]
    return "; ".join(part for part in parts if part)


def explained(text: str | None) -> Any | None:
    """A sentence in the reader's language for a refusal the extension knows, else None."""
    lowered = clean(text).lower()
    for known, sentence in _KNOWN:
        if known in lowered:
            return sentence
    return None

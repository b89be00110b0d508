"""PHP-style form fields, as the portal posts events: ``data[FIELDS][ID]=7`` ->
``{"data": {"FIELDS": {"ID": "7"}}}``; ``a[]=x&a[]=y`` and keys 0..n-1 become lists.

The portal's events nest a few levels (``data[FIELDS_AFTER][ID]``); a name nested deeper than
``MAX_DEPTH`` brackets is refused before anything is built from it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_PART = re.compile(r"\[([^\[\]]*)\]")
_INDEX = re.compile(r"[0-9]{1,9}")
MAX_DEPTH = 8


class FormError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_pairs(pairs: Iterable[tuple[str, str]], *,
                max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        if not head:
            raise FormError(name[:100], f"malformed field name {name[:100]!r}")
        if name.count("[") > max_depth:
            raise FormError(name[:100], f"{name[:100]!r} is nested more than {max_depth} "
                                        "levels deep")
        path = [head, *_PART.findall("[" + rest)] if rest else [head]
        node = root
        for index, key in enumerate(path):
            last = index == len(path) - 1
            if key == "":
                key = str(len(node))
            if last:
                node[key] = value
            else:
                child = node.setdefault(key, {})
                if not isinstance(child, dict):
                    raise FormError(name, f"{name!r} mixes a value and nested fields")
                node = child
    return _listify(root)


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {k: _listify(v) for k, v in value.items()}
    if items and all(_INDEX.fullmatch(k) for k in items) and sorted(map(int, items)) == list(
            range(len(items))):
        return [items[str(i)] for i in range(len(items))]
    return items

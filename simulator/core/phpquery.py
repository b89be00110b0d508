"""Query strings and form bodies read the way PHP's ``parse_str`` reads them, since the portal is
a PHP application and its clients rely on that: ``FILTER[ACTIVE]=Y&select[]=ID`` arrives as
``{"FILTER": {"ACTIVE": "Y"}, "select": ["ID"]}`` (docs: settings/how-to-call-rest-api/
general-principles.md).

Rules (PHP's, with the one deviation marked):
- keys are percent-decoded before the brackets are read, so ``filter[%3E%3DDATE]`` is the key
  ``>=DATE`` inside ``filter`` (fast_bitrix24 and b24pysdk both encode keys that way);
- ``name[]=`` appends (next index = largest integer key + 1);
- an array whose keys are exactly 0..n-1 in order is a list, any other array an object (this is
  what PHP's ``json_encode`` does, so the same rule shapes ``batch`` answers, see ``php_array``);
- a later scalar replaces an earlier array of the same name, and the other way round;
- pairs without a name (``[a]=1``) are dropped;
- deviation: ``name[]=`` with an empty value makes an empty array rather than ``[""]``:
  b24pysdk sends skipped parameters that way (``ORDER[]=``) and means "nothing".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote_plus

_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]{0,17})$")
_SEGMENT = re.compile(r"\[([^\]]*)\]")


def php_key(key: Any) -> int | str:
    """PHP turns decimal-integer string keys into integers ("7" -> 7, "07" stays a string)."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    text = str(key)
    return int(text) if _INT_KEY.match(text) else text


def php_array(items: Mapping[Any, Any]) -> list[Any] | dict[str, Any]:
    """How PHP serialises an array: ``[]`` when empty, a list when the keys are 0..n-1 in order,
    otherwise an object with string keys."""
    keys = [php_key(k) for k in items]
    if keys == list(range(len(keys))):
        return list(items.values())
    return {str(k): v for k, v in items.items()}


def parse(query: str) -> dict[str, Any]:
    """Parse a query string or urlencoded body (``a=1&b[c]=2``) into nested dicts and lists."""
    return parse_pairs(_decoded_pairs(query))


def _decoded_pairs(query: str) -> list[tuple[str, str]]:
    """``parse_qsl(query, keep_blank_values=True)``, without its cost for the parts that need
    no decoding (ids and field names: nearly everything in a ``batch`` command)."""
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "+" in name or "%" in name:
            name = unquote_plus(name)
        if "+" in value or "%" in value:
            value = unquote_plus(value)
        pairs.append((name, value))
    return pairs


def parse_pairs(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Build the nested structure from already-decoded ``(name, value)`` pairs (form fields)."""
    root: dict[Any, Any] = {}
    paths = _PATHS
    for name, value in pairs:
        keys = paths.get(name, _UNSEEN)
        if keys is _UNSEEN:
            keys = _keys(name)
            if len(paths) >= _PATHS_KEPT:
                paths.clear()
            paths[name] = keys
        if keys is None:
            continue
        _assign(root, keys, value)
    return {str(k): _finish(v) for k, v in root.items()}


# Parameter names seen lately, as keys (clients send the same few names again and again).
_PATHS: dict[str, list[Any] | None] = {}
_PATHS_KEPT = 4096
_UNSEEN: Any = object()
_APPEND: Any = object()  # ``[]``: the next index


def _keys(name: str) -> list[Any] | None:
    """The keys ``name`` assigns to: the top-level name as it is (Params folds its case), then
    PHP keys, ``_APPEND`` for ``[]``; None for a pair PHP ignores."""
    path = _split(name)
    if path is None:
        return None
    return [path[0], *(_APPEND if segment == "" else php_key(segment) for segment in path[1:])]


def _split(name: str) -> list[str] | None:
    """``"a[b][]"`` -> ``["a", "b", ""]``; None for a pair PHP ignores."""
    name = name.lstrip(" ")
    open_at = name.find("[")
    if open_at < 0:
        return [name] if name else None
    base = name[:open_at]
    if not base:
        return None
    segments: list[str] = []
    position = open_at
    while position < len(name) and name[position] == "[":
        match = _SEGMENT.match(name, position)
        if match is None:
            if not segments:  # an unclosed first bracket is part of the name
                return [name]
            break
        segments.append(match.group(1))
        position = match.end()
    return [base, *segments]


def _next_index(node: dict[Any, Any]) -> int:
    numbers = [k for k in node if isinstance(k, int)]
    return max(max(numbers) + 1, 0) if numbers else 0


def _assign(root: dict[Any, Any], keys: list[Any], value: Any) -> None:
    node = root
    last_depth = len(keys) - 1
    for depth, key in enumerate(keys):
        if key is _APPEND:
            if depth == last_depth and value == "":
                return  # ``name[]=`` alone: the array exists but stays empty
            key = _next_index(node)
        if depth == last_depth:
            node[key] = value
            return
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child


def _finish(value: Any) -> Any:
    """:func:`php_array` of a parsed array, inner arrays first. Its keys are PHP keys already
    (:func:`_keys`), so integers are told apart by type, and an array with only string keys
    is an object as it stands (``batch`` reads tens of thousands of such commands)."""
    if type(value) is not dict:
        return value
    listed, numbered = True, False
    for index, (key, inner) in enumerate(value.items()):
        if type(inner) is dict:
            value[key] = _finish(inner)
        if type(key) is int:
            numbered = True
            listed = listed and key == index
        else:
            listed = False
    if listed:
        return list(value.values())
    return {str(k): v for k, v in value.items()} if numbered else value


def build(params: Mapping[str, Any]) -> str:
    """The inverse of :func:`parse`: nested dicts and lists become ``a[b][0]=x`` pairs.
    Booleans become ``Y``/``N`` (the portal's own flags), ``None`` an empty value."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        _flatten(str(key), value, pairs)
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs)


def _flatten(prefix: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        if not value:
            pairs.append((f"{prefix}[]", ""))
        for key, inner in value.items():
            _flatten(f"{prefix}[{key}]", inner, pairs)
    elif isinstance(value, list | tuple):
        if not value:
            pairs.append((f"{prefix}[]", ""))
        for index, inner in enumerate(value):
            _flatten(f"{prefix}[{index}]", inner, pairs)
    elif value is None:
        pairs.append((prefix, ""))
    elif isinstance(value, bool):
        pairs.append((prefix, "Y" if value else "N"))
    else:
        pairs.append((prefix, str(value)))

"""An in-memory stand-in for the portal's REST surface the move engine uses, as a dispatch
callable: ``*.list`` (responsible filter, ``>ID``, ``@ID``/``ID`` lists, counted or ``start=-1``
pages of 50), ``*.update``, the user-field questions and ``batch`` with ``$result[...]``
references. It does nothing else and keeps no history, so the time spent against it is the
extension's own: building commands, planning and journaling (bench/handover.py,
"engine_only").

Every command of a ``batch`` is parsed from its query string as the portal parses it (PHP's
``parse_str``, simulator/phpquery.py): :func:`parse_query` gives the same structure as
``phpquery.parse`` with less work per pair, and hands any query it does not take apart the
simple way (a malformed bracket) to ``phpquery.parse`` itself."""

from __future__ import annotations

import bisect
import re
from typing import Any
from urllib.parse import unquote_plus

from simulator import phpquery

PAGE = 50
_REF = re.compile(r"^\$result\[([^\]]+)\]((?:\[[^\]]*\])+)$")
_INT_KEY = re.compile(r"(0|-?[1-9][0-9]{0,17})")
# family: (kind, responsible field in filters/updates, row id key, responsible row key,
# rows wrapped under, the previous-responsible user field's name in rows and updates)
Family = tuple[str, str, str, str, str | None, str | None]
_OLD_UF = "UF_CRM_PREV_RESPONSIBLE"
FAMILIES: dict[str, Family] = {
    "crm.lead.": ("lead", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None, _OLD_UF),
    "crm.deal.": ("deal", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None, _OLD_UF),
    "crm.contact.": ("contact", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None, _OLD_UF),
    "crm.company.": ("company", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None, _OLD_UF),
    "crm.quote.": ("quote", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None, _OLD_UF),
    "crm.item.": ("smart_invoice", "assignedById", "id", "assignedById", "items",
                  "ufCrmPrevResponsible"),
    "crm.activity.": ("activity", "RESPONSIBLE_ID", "ID", "RESPONSIBLE_ID", None, None),
    "tasks.task.": ("task", "RESPONSIBLE_ID", "id", "responsibleId", "tasks", None),
}
# lower-case method -> (family, "list" | "update")
METHODS = {f"{prefix}{action}": (family, action)
           for prefix, family in FAMILIES.items() for action in ("list", "update")}


def parse_query(query: str) -> dict[str, Any]:
    """``phpquery.parse(query)``: PHP's nested names (``a[b][]=1``), integer-like keys as
    integers, arrays keyed 0..n-1 as lists, ``name[]=`` alone as an empty array."""
    decode = "%" in query or "+" in query
    numbered = False  # no integer key and no empty array: every array is an object already
    root: dict[str, Any] = {}
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if decode:
            name, value = unquote_plus(name), unquote_plus(value)
        try:
            base, inner, last, numeric = _NAMES[name]
        except KeyError:
            path = _name_path(name)
            if path is None:
                return phpquery.parse(query)  # PHP's rules for odd brackets: the long way
            base, inner, last, numeric = path
        if last is None:
            if base:
                root[base] = value
            continue
        node = root.get(base)
        if type(node) is not dict:
            root[base] = node = {}
        if not numeric:
            for key in inner:
                child = node.get(key)
                if type(child) is not dict:
                    node[key] = child = {}
                node = child
            node[last] = value
            continue
        numbered = True
        for key in inner:
            if key == "":
                key = _next_index(node)
            child = node.get(key)
            if type(child) is not dict:
                node[key] = child = {}
            node = child
        if last == "":
            if value == "":
                continue  # ``name[]=`` alone: the array exists but stays empty ([])
            last = _next_index(node)
        node[last] = value
    if numbered:
        for name, value in root.items():
            if type(value) is dict:
                root[name] = _finish(value)
    return root


# A parameter name taken apart: (base, the keys of its brackets but the last, the last key,
# whether any key is an integer or ``[]``), integer-like keys as integers and "" for ``[]``.
# The last key is None for a name without brackets; an empty base is a pair PHP drops.
# Names repeat from command to command, so each is taken apart once.
NamePath = tuple[str, tuple[int | str, ...], int | str | None, bool]
_NAMES: dict[str, NamePath] = {}


def _name_path(name: str) -> NamePath | None:
    """``name`` taken apart (and remembered), or None for brackets PHP reads its own way (one
    left open, text after the last)."""
    text = name.lstrip(" ")
    open_at = text.find("[")
    if open_at <= 0:
        path: NamePath = (text if open_at < 0 else "", (), None, False)
    else:
        inner = text[open_at + 1:-1]
        segments = inner.split("][")
        separators = len(segments) - 1
        if text[-1] != "]" or inner.count("[") != separators \
                or inner.count("]") != separators:
            return None
        keys = [_key(segment) for segment in segments]
        numeric = any(type(key) is int or key == "" for key in keys)
        path = (text[:open_at], tuple(keys[:-1]), keys[-1], numeric)
    if len(_NAMES) > 10_000:
        _NAMES.clear()
    _NAMES[name] = path
    return path


def _key(segment: str) -> int | str:
    if segment[:1] in ("-", *"0123456789") and _INT_KEY.fullmatch(segment):
        return int(segment)
    return segment


def _next_index(node: dict[Any, Any]) -> int:
    top = -1
    for key in node:
        if type(key) is int and key > top:
            top = key
    return top + 1


def _finish(node: dict[Any, Any]) -> Any:
    """PHP's ``json_encode`` of an array: a list when keyed 0..n-1 in order."""
    listed, numbered = True, False
    for n, (key, value) in enumerate(node.items()):
        if type(value) is dict:
            node[key] = _finish(value)
        if type(key) is int:
            numbered = True
            listed = listed and key == n
        else:
            listed = False
    if listed:
        return list(node.values())
    return {str(k): v for k, v in node.items()} if numbered else node


class StubPortal:
    def __init__(self, holdings: dict[str, dict[int, int]]) -> None:
        self.holders = holdings  # kind -> id -> responsible
        self.order = {kind: sorted(ids) for kind, ids in holdings.items()}  # no adds here
        self.prev: dict[str, dict[int, Any]] = {kind: {} for kind in holdings}
        self.fields: set[str] = set()

    def __call__(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        name = method.lower()
        found = METHODS.get(name)
        if found is not None:
            family, action = found
            return self._list(family, params) if action == "list" else \
                {"result": self._update(family, params)}
        if name == "batch":
            return {"result": self._batch(params.get("cmd") or {})}
        if name.endswith(".userfield.list"):
            entity = name.rsplit(".", 2)[0]
            return {"result": [{"FIELD_NAME": "UF_CRM_PREV_RESPONSIBLE"}]
                    if entity in self.fields else []}
        if name.endswith(".userfield.add"):
            self.fields.add(name.rsplit(".", 2)[0])
            return {"result": len(self.fields)}
        if name == "crm.item.fields":
            return {"result": {"fields": {"ufCrmPrevResponsible": {}}}}
        raise KeyError(method)

    def _list(self, family: Family, params: dict[str, Any]) -> dict[str, Any]:
        kind, field, id_key, row_key, wrap, uf = family
        flt = {str(k).upper(): v for k, v in (params.get("filter") or {}).items()}
        owned = self.holders[kind]
        wanted: Any = flt.get("@ID", flt.get("ID"))
        start = int(params.get("start", 0) or 0)
        if wanted is not None:
            values = wanted.values() if isinstance(wanted, dict) else wanted
            ids = sorted(filter(owned.__contains__, map(int, values)))
        else:
            who = int(flt[field.upper()])
            after = int(flt.get(">ID", 0) or 0)
            order = self.order[kind]
            ids = []
            counting = start >= 0  # a counted page needs all
            for n in range(bisect.bisect_right(order, after), len(order)):
                i = order[n]
                if owned[i] == who:
                    ids.append(i)
                    if not counting and len(ids) == PAGE:
                        break
        page = ids[max(start, 0):max(start, 0) + PAGE]
        prev = self.prev[kind]
        rows = [{id_key: str(i), row_key: str(owned[i]), uf: prev.get(i)} for i in page] \
            if uf else [{id_key: str(i), row_key: str(owned[i])} for i in page]
        envelope: dict[str, Any] = {"result": {wrap: rows} if wrap else rows}
        if start >= 0:
            envelope["total"] = len(ids)
        return envelope

    def _update(self, family: Family, params: dict[str, Any]) -> bool:
        kind, field, uf = family[0], family[1], family[5]
        item_id = int(params.get("id") or params.get("taskId"))  # type: ignore[arg-type]
        fields = params.get("fields") or {}
        self.holders[kind][item_id] = int(fields[field])
        if uf and uf in fields:
            self.prev[kind][item_id] = fields[uf] or None
        return True

    def _batch(self, commands: dict[str, str]) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for key, command in commands.items():
            method, _, query = command.partition("?")
            params = parse_query(query)
            if "$result" in query or "%24result" in query:
                params = self._resolve(params, results)
            found = METHODS.get(method.lower())
            if found is not None and found[1] == "update":
                results[key] = self._update(found[0], params)
            else:
                results[key] = self(method, params)["result"]
        return {"result": results, "result_error": []}

    def _resolve(self, value: Any, results: dict[str, Any]) -> Any:
        if isinstance(value, dict):
            return {k: self._resolve(v, results) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v, results) for v in value]
        if isinstance(value, str):
            found = _REF.match(value)
            if found:
                node: Any = results.get(found.group(1))
                for part in re.findall(r"\[([^\]]*)\]", found.group(2)):
                    if isinstance(node, list):
                        node = node[int(part)] if int(part) < len(node) else None
                    else:
                        node = (node or {}).get(part)
                return node
        return value

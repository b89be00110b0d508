"""An in-memory stand-in for the portal's REST surface the move engine uses, as a dispatch
callable: ``*.list`` (responsible filter, ``>ID``, ``@ID``/``ID`` lists, counted or ``start=-1``
pages of 50), ``*.update``, the user-field questions and ``batch`` with ``$result[...]``
references. It does nothing else and keeps no history, so the time spent against it is the
extension's own: building commands, planning and journaling (bench/handover.py,
"engine_only").

Every command of a ``batch`` is read from its query string by the simulator's own parser
(PHP's ``parse_str``, simulator/phpquery.py), so the stub reads a command exactly as the
simulated portal does; tests/ext/test_handover_stub.py checks that it answers the engine's
commands as the simulator does. The stub counts the time it spends answering
(:attr:`StubPortal.seconds`), so the bench can tell the extension's share from the stub's."""

from __future__ import annotations

import bisect
import re
import time
from typing import Any

from simulator.core import phpquery

PAGE = 50
_REF = re.compile(r"^\$result\[([^\]]+)\]((?:\[[^\]]*\])+)$")
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
# crm.item.* answers numbers where the old CRM methods and tasks answer strings
_VALUE: dict[str, Any] = {"smart_invoice": int}
# what an update answers: the item under this key (the old CRM methods answer true)
_ANSWERED_WITH = {"smart_invoice": "item", "task": "task"}
# lower-case method -> (family, "list" | "update")
METHODS = {f"{prefix}{action}": (family, action)
           for prefix, family in FAMILIES.items() for action in ("list", "update")}


class StubPortal:
    def __init__(self, holdings: dict[str, dict[int, int]]) -> None:
        self.holders = holdings  # kind -> id -> responsible
        self.order = {kind: sorted(ids) for kind, ids in holdings.items()}  # no adds here
        self.prev: dict[str, dict[int, Any]] = {kind: {} for kind in holdings}
        self.fields: set[str] = set()
        self.seconds = 0.0  # time spent answering: not the extension's

    def __call__(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return self._answer(method, params)
        finally:
            self.seconds += time.perf_counter() - started

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
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
        value = _VALUE.get(kind, str)
        rows = [{id_key: value(i), row_key: value(owned[i]), uf: prev.get(i)} for i in page] \
            if uf else [{id_key: value(i), row_key: value(owned[i])} for i in page]
        envelope: dict[str, Any] = {"result": {wrap: rows} if wrap else rows}
        if start >= 0:
            envelope["total"] = len(ids)
        return envelope

    def _update(self, family: Family, params: dict[str, Any]) -> Any:
        kind, field, id_key, row_key, uf = family[0], family[1], family[2], family[3], family[5]
        item_id = int(params.get("id") or params.get("taskId"))  # type: ignore[arg-type]
        fields = params.get("fields") or {}
        self.holders[kind][item_id] = int(fields[field])
        value = _VALUE.get(kind, str)
        if uf and uf in fields:
            self.prev[kind][item_id] = value(fields[uf]) if fields[uf] else None
        if kind in _ANSWERED_WITH:
            return {_ANSWERED_WITH[kind]: {id_key: value(item_id),
                                           row_key: value(self.holders[kind][item_id])}}
        return True

    def _batch(self, commands: dict[str, str]) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for key, command in commands.items():
            method, _, query = command.partition("?")
            params = phpquery.parse(query)
            if "$result" in query or "%24result" in query:
                params = self._resolve(params, results)
            found = METHODS.get(method.lower())
            if found is not None and found[1] == "update":
                results[key] = self._update(found[0], params)
            else:
                results[key] = self._answer(method, params)["result"]
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

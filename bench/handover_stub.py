"""An in-memory stand-in for the portal's REST surface the move engine uses, as a dispatch
callable: ``*.list`` (responsible filter, ``>ID``, ``@ID``/``ID`` lists, counted or ``start=-1``
pages of 50), ``*.update``, the user-field questions and ``batch`` with ``$result[...]``
references. It does nothing else and keeps no history, so the time spent against it is the
extension's own: building commands, planning and journaling (bench/handover.py,
"engine_only")."""

from __future__ import annotations

import bisect
import re
from typing import Any

from simulator import phpquery

PAGE = 50
_REF = re.compile(r"^\$result\[([^\]]+)\]((?:\[[^\]]*\])+)$")
# method prefix -> (kind, responsible field in filters/updates, row id key, responsible row
# key, rows wrapped under)
FAMILIES = {
    "crm.lead.": ("lead", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None),
    "crm.deal.": ("deal", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None),
    "crm.contact.": ("contact", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None),
    "crm.company.": ("company", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None),
    "crm.quote.": ("quote", "ASSIGNED_BY_ID", "ID", "ASSIGNED_BY_ID", None),
    "crm.item.": ("smart_invoice", "assignedById", "id", "assignedById", "items"),
    "crm.activity.": ("activity", "RESPONSIBLE_ID", "ID", "RESPONSIBLE_ID", None),
    "tasks.task.": ("task", "RESPONSIBLE_ID", "id", "responsibleId", "tasks"),
}


class StubPortal:
    def __init__(self, holdings: dict[str, dict[int, int]]) -> None:
        self.holders = holdings  # kind -> id -> responsible
        self.order = {kind: sorted(ids) for kind, ids in holdings.items()}  # no adds here
        self.prev: dict[tuple[str, int], Any] = {}
        self.fields: set[str] = set()

    def __call__(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        name = method.lower()
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
        for prefix, family in FAMILIES.items():
            if name.startswith(prefix):
                action = name[len(prefix):]
                if action == "list":
                    return self._list(family, params)
                if action == "update":
                    return self._update(family, params)
        raise KeyError(method)

    def _list(self, family: Any, params: dict[str, Any]) -> dict[str, Any]:
        kind, field, id_key, row_key, wrap = family
        flt = {str(k).upper(): v for k, v in (params.get("filter") or {}).items()}
        owned = self.holders[kind]
        wanted: Any = flt.get("@ID", flt.get("ID"))
        if wanted is not None:
            values = wanted.values() if isinstance(wanted, dict) else wanted
            ids = sorted(int(i) for i in values if int(i) in owned)
        else:
            who = int(flt[field.upper()])
            after = int(flt.get(">ID", 0) or 0)
            order = self.order[kind]
            ids = []
            counting = int(params.get("start", 0) or 0) >= 0  # a counted page needs all
            for i in order[bisect.bisect_right(order, after):]:
                if owned[i] == who:
                    ids.append(i)
                    if not counting and len(ids) == PAGE:
                        break
        start = int(params.get("start", 0) or 0)
        page = ids[max(start, 0):max(start, 0) + PAGE]
        rows = [{id_key: str(i), row_key: str(owned[i]),
                 "UF_CRM_PREV_RESPONSIBLE": self.prev.get((kind, i)),
                 "ufCrmPrevResponsible": self.prev.get((kind, i))} for i in page]
        envelope: dict[str, Any] = {"result": {wrap: rows} if wrap else rows}
        if start >= 0:
            envelope["total"] = len(ids)
        return envelope

    def _update(self, family: Any, params: dict[str, Any]) -> dict[str, Any]:
        kind, field, *_ = family
        item_id = int(params.get("id") or params.get("taskId"))  # type: ignore[arg-type]
        fields = params.get("fields") or {}
        self.holders[kind][item_id] = int(fields[field])
        for name in ("UF_CRM_PREV_RESPONSIBLE", "ufCrmPrevResponsible"):
            if name in fields:
                self.prev[(kind, item_id)] = fields[name] or None
        return {"result": True}

    def _batch(self, commands: dict[str, str]) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for key, command in commands.items():
            method, _, query = command.partition("?")
            params = self._resolve(phpquery.parse(query), results)
            results[key] = self(method, params)["result"]
        return {"result": results, "result_error": []}

    def _resolve(self, value: Any, results: dict[str, Any]) -> Any:
        if isinstance(value, dict):
            return {k: self._resolve(v, results) for k, v in value.items()}
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

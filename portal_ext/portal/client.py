"""The portal port: REST calls by the portal's own method names.

``PortalClient`` holds the logic (paging, batching); a transport only carries one call, so the
in-process and HTTP paths behave the same (tests/ext/test_portal_contract.py runs one suite
through both).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from portal_ext.portal.errors import PortalError
from portal_ext.portal.transports import Envelope, Transport

PAGE_SIZE = 50  # fixed by the portal (list-methods-pecularities.md)
BATCH_LIMIT = 50  # commands per batch (batch.md)

# List methods that take the bulk-export fast path (settings/performance/huge-data.md):
# filter ``>ID`` on the last id seen, order by ID ascending, ``start=-1`` (no count).
# method -> (id field in filter/order/rows, result key holding the rows or None)
FAST_PATH: dict[str, tuple[str, str | None]] = {
    "crm.lead.list": ("ID", None), "crm.deal.list": ("ID", None),
    "crm.contact.list": ("ID", None), "crm.company.list": ("ID", None),
    "crm.quote.list": ("ID", None), "crm.activity.list": ("ID", None),
    "crm.item.list": ("id", "items"), "tasks.task.list": ("ID", "tasks"),
}

Command = tuple[str, Mapping[str, Any] | None]


class PortalClient:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    # -- single calls ---------------------------------------------------------------------------
    def call_raw(self, method: str, params: Mapping[str, Any] | None = None) -> Envelope:
        """The whole envelope: ``result`` and, for lists, ``total`` and ``next``."""
        return self.transport.call_raw(method, dict(params or {}))

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.call_raw(method, params).get("result")

    # -- batch ----------------------------------------------------------------------------------
    def batch(self, commands: Mapping[str, Command] | Sequence[Command], *,
              halt: bool = False) -> dict[Any, Any]:
        """Run many calls, 50 per ``batch`` request. Returns ``{key: result}`` for a dict of
        commands, ``{index: result}`` for a list. A failed command raises PortalError (the
        first one, after the others in its chunk ran) unless ``halt`` stopped the chunk."""
        items = (list(commands.items()) if isinstance(commands, Mapping)
                 else list(enumerate(commands)))
        results: dict[Any, Any] = {}
        for keys, done, errors in self._batches(items, halt=halt):
            for wire, key in keys.items():
                if wire in errors:
                    raise PortalError.from_body(errors[wire], 400)
                if wire in done:
                    results[key] = done[wire]
            if halt and len(done) < len(keys):
                raise PortalError("ERROR_BATCH_HALTED", "batch stopped at a failed command")
        return results

    def batch_each(self, commands: Mapping[Any, Command]) -> dict[Any, Any]:
        """Run many calls, 50 per ``batch`` request, and return each command's own outcome:
        ``{key: result}``, or ``{key: PortalError}`` for a command the portal refused (the
        others in its request still ran). A command the answer does not mention is left out.
        A request refused as a whole raises its PortalError."""
        outcomes: dict[Any, Any] = {}
        for keys, done, errors in self._batches(list(commands.items()), halt=False):
            for wire, key in keys.items():
                if wire in errors:
                    outcomes[key] = PortalError.from_body(errors[wire], 400)
                elif wire in done:
                    outcomes[key] = done[wire]
        return outcomes

    def _batches(self, items: list[tuple[Any, Command]], *, halt: bool
                 ) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        """One ``batch`` request per 50 commands: ``(wire key -> caller's key, results,
        errors)`` for each."""
        for start in range(0, len(items), BATCH_LIMIT):
            chunk = items[start:start + BATCH_LIMIT]
            keys = {f"c{i}": key for i, (key, _) in enumerate(chunk)}
            cmd = {f"c{i}": command_string(method, params)
                   for i, (_, (method, params)) in enumerate(chunk)}
            body = self.call("batch", {"halt": 1 if halt else 0, "cmd": cmd}) or {}
            yield keys, _section(body, "result"), _section(body, "result_error")

    # -- lists ----------------------------------------------------------------------------------
    def list_all(self, method: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        return list(self.iter_all(method, params))

    def iter_all(self, method: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every row of a list method, page after page."""
        params = dict(params or {})
        name = method.strip().lower()
        keys = {k.lower() for k in params}
        if name in FAST_PATH and not keys & {"order", "start"}:
            yield from self._iter_by_id(name, params)
        else:
            yield from self._iter_by_start(method, params)

    def _iter_by_start(self, method: str, params: dict[str, Any]) -> Iterator[Any]:
        start: Any = params.pop("start", params.pop("START", 0))
        while True:
            envelope = self.call_raw(method, {**params, "start": start})
            yield from _rows(envelope.get("result"))
            start = envelope.get("next")
            if start is None:
                return

    def _iter_by_id(self, method: str, params: dict[str, Any]) -> Iterator[Any]:
        id_field, result_key = FAST_PATH[method]
        filter_key = _key(params, "filter") or "filter"
        base_filter = dict(params.pop(filter_key, None) or {})
        select_key = _key(params, "select")
        if select_key and params[select_key] and id_field not in params[select_key]:
            params[select_key] = [*params[select_key], id_field]
        last = 0
        while True:
            page_params = {**params, filter_key: {**base_filter, f">{id_field}": last},
                           "order": {id_field: "ASC"}, "start": -1}
            result = self.call_raw(method, page_params).get("result")
            rows = list(_rows(result[result_key] if result_key and isinstance(result, dict)
                              else result))
            yield from rows
            if len(rows) < PAGE_SIZE:
                return
            last = int(_row_id(rows[-1], id_field))

    # -- the foundation's typed helpers ---------------------------------------------------------
    def users(self, filter: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every user, dismissed ones too (user.get returns them unless FILTER[ACTIVE])."""
        params: dict[str, Any] = {"sort": "ID", "order": "ASC"}
        if filter:
            params["FILTER"] = dict(filter)
        return self.list_all("user.get", params)

    def user(self, user_id: int) -> dict[str, Any] | None:
        found = self.call("user.get", {"FILTER": {"ID": int(user_id)}})
        return found[0] if isinstance(found, list) and found else None

    def departments(self) -> list[dict[str, Any]]:
        return self.list_all("department.get", {"sort": "ID", "order": "ASC"})

    def is_admin(self) -> bool:
        """Whether the caller (the webhook's owner) administers the portal (``user.admin``)."""
        return _truthy(self.call("user.admin"))

    def close(self) -> None:
        self.transport.close()


def command_string(method: str, params: Mapping[str, Any] | None) -> str:
    """``method?query`` with a PHP-style query (``filter[>ID]=5&select[0]=ID``), as the
    portal's batch parses it (batch.md)."""
    query = urlencode(_flatten(params or {}))
    return f"{method}?{query}" if query else method


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            pairs.extend(_flatten(item, f"{prefix}[{key}]" if prefix else str(key)))
        return pairs
    if isinstance(value, list | tuple):
        pairs = []
        for index, item in enumerate(value):
            pairs.extend(_flatten(item, f"{prefix}[{index}]"))
        return pairs
    if value is None:
        return [(prefix, "")]
    if isinstance(value, bool):
        return [(prefix, "Y" if value else "N")]
    return [(prefix, str(value))]


def _section(body: Any, name: str) -> dict[str, Any]:
    part = body.get(name) if isinstance(body, dict) else None
    # PHP serialises an empty section as [] and one keyed 0..n-1 as a list.
    if isinstance(part, list):
        return {f"c{i}": v for i, v in enumerate(part)}
    return dict(part or {})


def _rows(result: Any) -> Iterator[Any]:
    if isinstance(result, list):
        yield from result
    elif isinstance(result, dict) and len(result) == 1:
        inner = next(iter(result.values()))  # {"tasks": [...]}, {"items": [...]}
        yield from (inner if isinstance(inner, list) else [result])
    elif result:
        yield result


def _row_id(row: Mapping[str, Any], id_field: str) -> Any:
    return row.get(id_field, row.get(id_field.lower(), row.get(id_field.upper())))


def _key(params: Mapping[str, Any], name: str) -> str | None:
    return next((k for k in params if k.lower() == name), None)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "y")

"""The portal port: REST calls by the portal's own method names.

``PortalClient`` holds the logic (paging, batching); a transport only carries one call, so the
in-process and HTTP paths behave the same (tests/ext/test_portal_contract.py runs one suite
through both). This module is the one place that writes and reads the portal's ``batch``.

Many commands at once, 50 per ``batch`` request (batch.md)::

    answer = client.run_batch({
        "me": ("profile", None),
        "gone": ("crm.deal.get", {"id": 999}),
        "deals": ("crm.deal.list", {"filter": {"ASSIGNED_BY_ID": 5}, "start": 0}),
    })
    answer.results["me"]["ID"]       # "1": each command's result, by the caller's key
    answer.errors["gone"].code       # a command the portal refused: its PortalError
    answer.totals["deals"]           # 73: a list command's count, where the portal gives one

A big list in id order, 2,500 rows a request (settings/performance/huge-data.md)::

    for deal in client.iter_by_id("crm.deal.list", {"filter": {"CLOSED": "N"},
                                                    "select": ["ID", "TITLE"]}):
        ...
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from portal_ext.portal.errors import PortalError
from portal_ext.portal.transports import Envelope, Transport

PAGE_SIZE = 50  # fixed by the portal (list-methods-pecularities.md)
BATCH_LIMIT = 50  # commands per batch (batch.md)

# List methods that take the bulk-export fast path (settings/performance/huge-data.md):
# method -> (id field in filter and order, result key holding the rows or None, id in rows)
FAST_PATH: dict[str, tuple[str, str | None, str]] = {
    "crm.lead.list": ("ID", None, "ID"), "crm.deal.list": ("ID", None, "ID"),
    "crm.contact.list": ("ID", None, "ID"), "crm.company.list": ("ID", None, "ID"),
    "crm.quote.list": ("ID", None, "ID"), "crm.activity.list": ("ID", None, "ID"),
    "crm.item.list": ("id", "items", "id"), "tasks.task.list": ("ID", "tasks", "id"),
}

# (method, params): params as a mapping, or as a query already rendered (see command_string)
Command = tuple[str, Mapping[str, Any] | str | None]


@dataclass
class BatchAnswer:
    """Each command's outcome, by the caller's key: its ``result``, or the ``PortalError``
    the portal answered it with (code and description as the portal gave them), and the
    ``total`` of a list command where the portal counted. A command the answer does not
    mention (after a ``halt``) is in neither ``results`` nor ``errors``."""

    results: dict[Any, Any] = field(default_factory=dict)
    errors: dict[Any, PortalError] = field(default_factory=dict)
    totals: dict[Any, int] = field(default_factory=dict)

    def raise_first(self) -> None:
        """Raise the first refused command's error (in the commands' order), if any."""
        if self.errors:
            raise next(iter(self.errors.values()))


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
    def run_batch(self, commands: Mapping[Any, Command] | Sequence[Command], *,
                  halt: bool = False, before_each: Callable[[], None] | None = None
                  ) -> BatchAnswer:
        """Run every command, 50 per ``batch`` request, and return each one's outcome. Keys
        are those of a dict of commands, or the positions in a list; they go on the wire as
        ``str(key)``, so a later command may refer to an earlier one as
        ``$result[key][field]`` (batch.md).

        Without ``halt`` a refused command fails alone and every request is sent, as many
        under way at once as the transport carries (``max_in_flight``). With ``halt`` the
        portal stops at the first refused command and no later request is sent. A request
        refused as a whole (rate limit, portal down) raises its PortalError once the requests
        under way have come back. ``before_each`` runs before every request (a lease's
        heartbeat)."""
        items = (list(commands.items()) if isinstance(commands, Mapping)
                 else list(enumerate(commands)))
        if len({str(key) for key, _ in items}) != len(items):
            raise ValueError("two commands have the same key once written as text")
        chunks = [items[i:i + BATCH_LIMIT] for i in range(0, len(items), BATCH_LIMIT)]
        answer = BatchAnswer()
        in_flight = 1 if halt else max(1, int(getattr(self.transport, "max_in_flight", 1)))
        bodies = self._send(chunks, halt=halt, in_flight=in_flight, before_each=before_each)
        for chunk, body in zip(chunks, bodies, strict=True):
            results, errors = _section(body, "result"), _section(body, "result_error")
            totals = _section(body, "result_total")
            for key, _ in chunk:
                name = str(key)
                if name in errors:
                    answer.errors[key] = PortalError.from_body(errors[name], 400)
                elif name in results:
                    answer.results[key] = results[name]
                if name in totals:
                    with suppress(TypeError, ValueError):  # a total that is not a number
                        answer.totals[key] = int(totals[name])
            if halt and errors:
                break
        return answer

    def _send(self, chunks: list[list[tuple[Any, Command]]], *, halt: bool, in_flight: int,
              before_each: Callable[[], None] | None) -> Iterator[Any]:
        """The ``batch`` answer of each chunk, in order, with up to ``in_flight`` requests
        under way at once (``before_each`` runs in this thread, before each is sent)."""
        if in_flight <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                if before_each is not None:
                    before_each()
                yield self._post(chunk, halt)
            return
        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            waiting: deque[Future[Any]] = deque()
            for chunk in chunks:
                if len(waiting) >= in_flight:
                    yield waiting.popleft().result()
                if before_each is not None:
                    before_each()
                waiting.append(pool.submit(self._post, chunk, halt))
            while waiting:
                yield waiting.popleft().result()

    def _post(self, chunk: list[tuple[Any, Command]], halt: bool) -> Any:
        cmd = {str(key): command_string(method, params) for key, (method, params) in chunk}
        return self.call("batch", {"halt": 1 if halt else 0, "cmd": cmd}) or {}

    def batch(self, commands: Mapping[Any, Command] | Sequence[Command], *,
              halt: bool = False) -> dict[Any, Any]:
        """Run many calls (see :meth:`run_batch`) and return ``{key: result}``. A refused
        command raises its PortalError (the first one, in the commands' order); with ``halt``
        a command the portal did not reach raises ``ERROR_BATCH_HALTED``."""
        answer = self.run_batch(commands, halt=halt)
        answer.raise_first()
        if halt and len(answer.results) < len(commands):
            raise PortalError("ERROR_BATCH_HALTED", "batch stopped at a failed command")
        return answer.results

    def batch_each(self, commands: Mapping[Any, Command]) -> dict[Any, Any]:
        """Run many calls (see :meth:`run_batch`) and return each command's own outcome:
        ``{key: result}``, or ``{key: PortalError}`` for a command the portal refused (the
        others still ran). A command the answer does not mention is left out. A request
        refused as a whole raises its PortalError."""
        answer = self.run_batch(commands)
        return {key: answer.errors[key] if key in answer.errors else answer.results[key]
                for key in commands if key in answer.errors or key in answer.results}

    # -- lists ----------------------------------------------------------------------------------
    def list_all(self, method: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        return list(self.iter_all(method, params))

    def iter_all(self, method: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every row of a list method, page after page (by id, see :meth:`iter_by_id`, for
        the methods that allow it when the caller sets neither ``order`` nor ``start``)."""
        params = dict(params or {})
        name = method.strip().lower()
        keys = {k.lower() for k in params}
        if name in FAST_PATH and not keys & {"order", "start"}:
            id_field, rows_key, row_id = FAST_PATH[name]
            yield from self.iter_by_id(name, params, id_field=id_field, rows_key=rows_key,
                                       row_id=row_id)
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

    def iter_by_id(self, method: str, params: Mapping[str, Any] | None = None, *,
                   id_field: str = "ID", rows_key: str | None = None,
                   row_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a big list, in id order, by the portal's fast path
        (settings/performance/huge-data.md): filter ``>ID`` on the last id seen, order by ID
        ascending, ``start=-1`` (the portal counts nothing), until a page is short.

        Only the first page is counted (``start=0``), to know how many pages follow; those go
        up to 50 in one ``batch`` request, each page's ``>ID`` referring to the last id of the
        page before (``$result[p0][49][ID]``, batch.md), so 2,500 rows cost one request.
        Rows added after the count are not part of the listing.

        ``params`` holds the method's other parameters (``filter``, ``select``, ...);
        ``rows_key`` is where the method wraps its rows (``tasks``, ``items``), ``row_id`` the
        id's name in the rows when it is not ``id_field`` (tasks: ``id``). For example
        ``iter_by_id("tasks.task.list", {"filter": {"RESPONSIBLE_ID": 5}, "select": ["ID"]},
        rows_key="tasks", row_id="id")`` asks ``filter[RESPONSIBLE_ID]=5&filter[>ID]=0&
        select[0]=ID&order[ID]=ASC&start=0``, then, in one ``batch``, ``p0`` with
        ``filter[>ID]=<last id of page 1>&...&start=-1``, ``p1`` with
        ``filter[>ID]=$result[p0][tasks][49][id]``, and so on."""
        params = dict(params or {})
        row_id = row_id or id_field
        filter_key = _key(params, "filter") or "filter"
        base_filter = dict(params.pop(filter_key, None) or {})
        select_key = _key(params, "select")
        if select_key and params[select_key] and id_field not in params[select_key]:
            params[select_key] = [*params[select_key], id_field]

        def page(after: Any, start: int) -> dict[str, Any]:
            return {**params, filter_key: {**base_filter, f">{id_field}": after},
                    "order": {id_field: "ASC"}, "start": start}

        first = self.call_raw(method, page(0, 0))
        pages: list[Any] = [first.get("result")]  # the pages of one request, in order
        pages_left = max(1, -(-(int(first.get("total") or 0) - PAGE_SIZE) // PAGE_SIZE))
        path = f"[{rows_key}]" if rows_key else ""
        while True:
            for result in pages:
                if isinstance(result, PortalError):  # every page before was full: a failure
                    raise result
                rows = _page_rows(result, rows_key)
                yield from rows
                if len(rows) < PAGE_SIZE:
                    return
                last = int(rows[-1][row_id])
            if pages_left <= 0:
                return
            count = min(BATCH_LIMIT, pages_left)
            answer = self.run_batch({f"p{n}": (method, page(
                last if n == 0 else f"$result[p{n - 1}]{path}[{PAGE_SIZE - 1}][{row_id}]", -1))
                for n in range(count)})
            pages = [answer.errors.get(f"p{n}", answer.results.get(f"p{n}"))
                     for n in range(count)]
            pages_left -= count

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


def command_string(method: str, params: Mapping[str, Any] | str | None) -> str:
    """``method?query`` as the portal's ``batch`` parses it (batch.md); ``params`` is a
    mapping (see :func:`render_query`) or a query rendered already."""
    query = params if isinstance(params, str) else render_query(params or {})
    return f"{method}?{query}" if query else method


_PLAIN = re.compile(r"[\w\[\]$@!<>:*.\-]*")


def render_query(params: Mapping[str, Any]) -> str:
    """A PHP-style query, ``filter[@ID][0]=5&select[0]=ID`` (booleans as Y/N, None as
    empty), quoting only the parts that need it: a move renders tens of thousands of
    commands, mostly ids and names."""
    return "&".join(
        f"{k if _PLAIN.fullmatch(k) else quote(k, safe='[]')}="
        f"{v if _PLAIN.fullmatch(v) else quote(v, safe='')}" for k, v in _flatten(params))


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
    """One section of a ``batch`` answer by wire key. PHP writes an array keyed 0..n-1 as a
    list (an empty one as ``[]``): its position is the key."""
    part = body.get(name) if isinstance(body, Mapping) else None
    if isinstance(part, list):
        return {str(i): v for i, v in enumerate(part)}
    return dict(part) if isinstance(part, Mapping) else {}


def _page_rows(result: Any, rows_key: str | None) -> list[dict[str, Any]]:
    if rows_key and isinstance(result, Mapping):
        result = result.get(rows_key)
    return [row for row in (result or []) if isinstance(row, dict)]


def _rows(result: Any) -> Iterator[Any]:
    if isinstance(result, list):
        yield from result
    elif isinstance(result, dict) and len(result) == 1:
        inner = next(iter(result.values()))  # {"tasks": [...]}, {"items": [...]}
        yield from (inner if isinstance(inner, list) else [result])
    elif result:
        yield result


def _key(params: Mapping[str, Any], name: str) -> str | None:
    return next((k for k in params if k.lower() == name), None)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "y")

"""Talking to the portal in bulk: ``batch`` without halting, listing a big result in few
requests, re-reading items by id, and rendering tens of thousands of commands cheaply.
The move engine (portal_ext.moves.engine) is built on these."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import quote

from portal_ext.handover.types import ENTITY_TYPES, EntityKind
from portal_ext.portal.client import BATCH_LIMIT, PAGE_SIZE, PortalClient, _flatten
from portal_ext.portal.errors import PortalError
from portal_ext.portal.transports import HttpTransport

# (key, method, params); params may be a query string already rendered (update_query)
Command = tuple[str, str, Mapping[str, Any] | str]


def in_flight(client: PortalClient) -> int:
    """How many ``batch`` requests may be under way at once: two over HTTP, where the portal
    takes a good part of a second per batch of 50 writes, so with one at a time the wait for
    the answer, not the 2 requests/s limit, would set the pace (the transport's leaky bucket
    still holds the rate); one in-process, where the portal's work runs in this process."""
    return 2 if isinstance(client.transport, HttpTransport) else 1


def run_batch(client: PortalClient, commands: Sequence[Command], *,
              before_each: Callable[[], None] | None = None, parallel: int = 1
              ) -> tuple[dict[str, Any], dict[str, PortalError]]:
    """Every command, 50 per ``batch`` request, never halting: ``(results, errors)`` by key.
    A failure of a whole request (rate limit, portal down) raises, after the requests under
    way have finished. ``before_each`` runs before every request (the lease's heartbeat);
    ``parallel`` requests may be under way at once."""
    chunks = [commands[i:i + BATCH_LIMIT] for i in range(0, len(commands), BATCH_LIMIT)]

    def send(chunk: Sequence[Command]) -> Any:
        return client.call("batch", {"halt": 0, "cmd": {
            key: f"{method}?{params if isinstance(params, str) else render_query(params)}"
            for key, method, params in chunk}}) or {}

    bodies: list[Any] = []
    if parallel <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            if before_each is not None:
                before_each()
            bodies.append(send(chunk))
    else:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            waiting: deque[Future[Any]] = deque()
            futures: list[Future[Any]] = []
            for chunk in chunks:
                if len(waiting) >= parallel:
                    wait([waiting.popleft()])
                if before_each is not None:
                    before_each()
                future = pool.submit(send, chunk)
                waiting.append(future)
                futures.append(future)
            bodies = [future.result() for future in futures]
    results: dict[str, Any] = {}
    errors: dict[str, PortalError] = {}
    for body in bodies:
        results.update(_section(body, "result"))
        for key, error in _section(body, "result_error").items():
            errors[key] = PortalError.from_body(error, 400)
            results.pop(key, None)
    return results, errors


def _section(body: Any, name: str) -> dict[str, Any]:
    part = body.get(name) if isinstance(body, dict) else None
    if isinstance(part, list):  # PHP sends an empty section as []
        return {str(i): v for i, v in enumerate(part)}
    return dict(part or {})


def list_rows(client: PortalClient, kind: EntityKind, filter: Mapping[str, Any]
              ) -> Iterator[dict[str, Any]]:
    """Every row matching ``filter``, in id order. The first page (counted) tells how many
    pages follow; those are fetched up to 50 a request, each page's ``>ID`` filter referring to
    the last id of the page before (``$result[pN][49][ID]``, batch.md), so a big list costs one
    request per 2,500 rows (settings/performance/huge-data.md)."""
    first = client.call_raw(kind.list_method, {**kind.list_params(
        {**filter, f">{kind.id_key}": 0}), "start": 0})
    rows = kind.rows(first.get("result"))
    yield from rows
    if len(rows) < PAGE_SIZE:
        return
    last = kind.row_id(rows[-1])
    pages_left = max(1, -(-(int(first.get("total") or 0) - PAGE_SIZE) // PAGE_SIZE))
    path = f"[{kind.rows_key}]" if kind.rows_key else ""
    while pages_left > 0:  # rows added after the count are not part of this listing
        count = min(BATCH_LIMIT, pages_left)
        commands: list[Command] = []
        for n in range(count):
            after: Any = last if n == 0 else \
                f"$result[p{n - 1}]{path}[{PAGE_SIZE - 1}][{kind.id_in_rows}]"
            commands.append((f"p{n}", kind.list_method,
                             kind.list_params({**filter, f">{kind.id_key}": after})))
        results, errors = run_batch(client, commands)
        for n in range(count):
            if f"p{n}" in errors:  # every page before it was full: a real failure
                raise errors[f"p{n}"]
            page = kind.rows(results.get(f"p{n}"))
            yield from page
            if len(page) < PAGE_SIZE:
                return
            last = kind.row_id(page[-1])
        pages_left -= count


def current_rows(client: PortalClient, wanted: Mapping[str, Sequence[int]]
                 ) -> dict[str, dict[int, Mapping[str, Any]]]:
    """The items as the portal has them now, ``kind name -> id -> row`` (absent: deleted):
    one ``list`` command per 50 ids, every kind in the same ``batch`` requests, so re-reading
    2,500 items costs one request."""
    commands: list[Command] = []
    kinds: dict[str, EntityKind] = {}
    for name, ids in wanted.items():
        kind = ENTITY_TYPES[name]
        head, tail = _reread_parts(kind)
        for n, start in enumerate(range(0, len(ids), PAGE_SIZE)):
            key = f"r{kind.name}{n}"
            kinds[key] = kind
            listed = "&".join([f"{head}{i}]={entity_id}" for i, entity_id
                               in enumerate(ids[start:start + PAGE_SIZE])])
            commands.append((key, kind.list_method, f"{listed}{tail}"))
    results, errors = run_batch(client, commands)
    if errors:
        raise next(iter(errors.values()))
    found: dict[str, dict[int, Mapping[str, Any]]] = {name: {} for name in wanted}
    for key, result in results.items():
        kind = kinds[key]
        rows = result.get(kind.rows_key) if kind.rows_key and isinstance(result, Mapping) \
            else result
        by_id, id_key = found[kind.name], kind.id_in_rows
        for row in rows or ():
            if type(row) is dict or isinstance(row, Mapping):
                by_id[int(row[id_key])] = row
    return found


_REREAD: dict[tuple[Any, ...], tuple[str, str]] = {}


def _reread_parts(kind: EntityKind) -> tuple[str, str]:
    """The re-read query of ``kind`` around its ids: ``filter[@ID][`` before each ``n]=id``,
    then the rest of :meth:`EntityKind.list_params` (base params, select, order, start)."""
    cache_key = (kind.in_prefix, kind.id_key, tuple(kind.base_params.items()), kind.select)
    parts = _REREAD.get(cache_key)
    if parts is None:
        params = kind.list_params({})
        del params["filter"]
        parts = (f"filter[{kind.in_prefix}{kind.id_key}][", f"&{render_query(params)}")
        _REREAD[cache_key] = parts
    return parts


def update_query(kind: EntityKind, entity_id: int, fields: Mapping[str, int | str]) -> str:
    """The query of ``kind.update_method`` setting ``fields`` (names and values are ids and
    field names: nothing to escape), as :func:`command_string` would write it, without the
    cost of urlencoding tens of thousands of them."""
    return update_template(kind, tuple(fields)).format(entity_id, *fields.values())


_TEMPLATES: dict[tuple[Any, ...], str] = {}


def update_template(kind: EntityKind, field_names: tuple[str, ...]) -> str:
    """:func:`update_query` as a ``str.format`` template: the item's id, then the value of
    each of ``field_names``. Built once per kind and fields, filled once per item."""
    cache_key = (tuple(kind.base_params.items()), kind.update_id_param, bool(kind.uf_family),
                 field_names)
    template = _TEMPLATES.get(cache_key)
    if template is None:
        parts = [_braced(f"{key}={value}") for key, value in kind.base_params.items()]
        parts.append(_braced(f"{kind.update_id_param}=") + "{}")
        parts.extend(_braced(f"fields[{name}]=") + "{}" for name in field_names)
        if kind.uf_family:
            # No live-feed entry and no "you are responsible" notice per item
            # (crm-deal-update: params.REGISTER_SONET_EVENT): the people concerned get one
            # notice per handover.
            parts.append("params[REGISTER_SONET_EVENT]=N")
        template = "&".join(parts)
        _TEMPLATES[cache_key] = template
    return template


def _braced(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


_PLAIN = re.compile(r"[\w\[\]$@!<>:*.\-]*")


def render_query(params: Mapping[str, Any]) -> str:
    """``command_string``'s query (PHP-style ``filter[@ID][0]=5``), quoting only the parts
    that need it: the engine renders tens of thousands of commands, mostly ids and names."""
    pairs = _flatten(params)
    return "&".join(
        f"{k if _PLAIN.fullmatch(k) else quote(k, safe='[]')}="
        f"{v if _PLAIN.fullmatch(v) else quote(v, safe='')}" for k, v in pairs)

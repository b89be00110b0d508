"""What the move engine (portal_ext.moves.engine) asks the portal in bulk, by entity kind:
listing an owner's items, re-reading items by id, and rendering tens of thousands of update
commands cheaply. The wire format (``batch``, paging) is the portal port's
(portal_ext.portal.client)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from portal_ext.moves.types import ENTITY_TYPES, EntityKind
from portal_ext.portal.client import PAGE_SIZE, Command, PortalClient, render_query


def list_rows(client: PortalClient, kind: EntityKind, filter: Mapping[str, Any]
              ) -> Iterator[dict[str, Any]]:
    """Every row of ``kind`` matching ``filter``, in id order, by the portal's fast path
    (:meth:`PortalClient.iter_by_id`: a big list costs one request per 2,500 rows)."""
    return client.iter_by_id(kind.list_method, kind.list_params(filter), id_field=kind.id_key,
                             rows_key=kind.rows_key, row_id=kind.id_in_rows)


def current_rows(client: PortalClient, wanted: Mapping[str, Sequence[int]]
                 ) -> dict[str, dict[int, Mapping[str, Any]]]:
    """The items as the portal has them now, ``kind name -> id -> row`` (absent: deleted):
    one ``list`` command per 50 ids, every kind in the same ``batch`` requests, so re-reading
    2,500 items costs one request."""
    commands: dict[str, Command] = {}
    kinds: dict[str, EntityKind] = {}
    for name, ids in wanted.items():
        kind = ENTITY_TYPES[name]
        head, tail = _reread_parts(kind)
        for n, start in enumerate(range(0, len(ids), PAGE_SIZE)):
            key = f"r{kind.name}{n}"
            kinds[key] = kind
            listed = "&".join([f"{head}{i}]={entity_id}" for i, entity_id
                               in enumerate(ids[start:start + PAGE_SIZE])])
            commands[key] = (kind.list_method, f"{listed}{tail}")
    answer = client.run_batch(commands)
    answer.raise_first()
    found: dict[str, dict[int, Mapping[str, Any]]] = {name: {} for name in wanted}
    for key, result in answer.results.items():
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

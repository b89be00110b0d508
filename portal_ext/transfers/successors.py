"""What the pure strategies need to know, read from the directory, the absences and the portal:
who the candidates are (active? away now?), the department head, and everyone's current load.

The load is counted on the portal, one list call per (type, candidate) with ``select: [ID]``
and ``start: 0``, of which only the ``total`` is read; the calls go 50 at a time in ``batch``,
whose ``result_total`` carries each command's total (batch.md). Twelve candidates cost one
request, not a page of rows per 50 items.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from portal_ext.directory.models import Department, PortalUser
from portal_ext.extensions import db
from portal_ext.moves.types import ENTITY_TYPES as KINDS
from portal_ext.portal.client import Command, PortalClient
from portal_ext.transfers.strategies import Candidate, department_members, nearest_head

# What counts as load: open leads, deals and quotes, and contacts and companies (never closed).
LOAD_TYPES: tuple[str, ...] = ("lead", "deal", "contact", "company", "quote")


def person(portal_id: int, user_id: int | None) -> PortalUser | None:
    if user_id is None:
        return None
    found: PortalUser | None = db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal_id, PortalUser.portal_user_id == user_id)).first()
    return found


def names(portal_id: int) -> dict[int, str]:
    return {u.portal_user_id: u.full_name for u in db.session.scalars(
        select(PortalUser).where(PortalUser.portal_id == portal_id))}


def is_away(portal_id: int, user_id: int, at: datetime) -> bool:
    """Whether an absence covers ``at`` (the absences package answers from its cache)."""
    try:
        from portal_ext.absences.services import active_absence
    except ImportError:  # absences not installed: nobody is away
        return False
    return active_absence(portal_id=portal_id, user_id=user_id, at=at) is not None


def candidates(portal_id: int, user_ids: Iterable[int], at: datetime) -> list[Candidate]:
    """Known users among ``user_ids`` as candidates (unknown ids are left out: the caller
    validated them)."""
    wanted = list(dict.fromkeys(int(u) for u in user_ids))
    known = {u.portal_user_id: u for u in db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal_id, PortalUser.portal_user_id.in_(wanted or [0])))}
    return [Candidate(uid, active=bool(known[uid].active),
                      absent=bool(known[uid].active) and is_away(portal_id, uid, at))
            for uid in wanted if uid in known]


def _tree(portal_id: int) -> tuple[dict[int, int | None], dict[int, int | None]]:
    departments = list(db.session.scalars(select(Department).where(
        Department.portal_id == portal_id)))
    heads = {d.portal_department_id: d.head_portal_user_id for d in departments}
    parents = {d.portal_department_id: d.parent_portal_id for d in departments}
    return heads, parents


def department_head(portal_id: int, user: PortalUser) -> int | None:
    """The nearest active head above ``user`` who is not the user."""
    heads, parents = _tree(portal_id)
    active = set(db.session.scalars(select(PortalUser.portal_user_id).where(
        PortalUser.portal_id == portal_id, PortalUser.active.is_(True))))
    return nearest_head(list(user.department_ids or []), heads, parents, active=active,
                        dismissed_id=user.portal_user_id)


def department_people(portal_id: int, department_id: int) -> list[int]:
    """Everyone in the department and its sub-departments (dismissed ones too: the strategy
    says why it left them out)."""
    _heads, parents = _tree(portal_id)
    members: dict[int, list[int]] = defaultdict(list)
    for user in db.session.scalars(select(PortalUser).where(PortalUser.portal_id == portal_id)):
        for department in user.department_ids or []:
            members[int(department)].append(user.portal_user_id)
    return department_members(department_id, members, parents)


def department_exists(portal_id: int, department_id: int) -> bool:
    return db.session.scalar(select(Department.id).where(
        Department.portal_id == portal_id,
        Department.portal_department_id == department_id)) is not None


def current_loads(client: PortalClient, user_ids: Sequence[int],
                  types: Sequence[str] = LOAD_TYPES) -> dict[int, int]:
    """Open items per user across ``types`` (see the module's docstring)."""
    held = holdings(client, user_ids, types, open_only=True)
    return {user_id: sum(counts.values()) for user_id, counts in held.items()}


def holdings(client: PortalClient, user_ids: Sequence[int], types: Sequence[str], *,
             open_only: bool = False) -> dict[int, dict[str, int]]:
    """Items each user is responsible for, per type (``open_only``: open ones only), read in
    one ``batch`` for everyone (fifty counts a request), never a call per person: each count is
    a list asking for one id, whose ``total`` is the number."""
    commands: dict[str, Command] = {}
    owners: dict[str, tuple[int, str]] = {}
    for user_id in dict.fromkeys(user_ids):
        for name in types:
            kind = KINDS[name]
            wanted = {**(kind.open_filter if open_only else {}),
                      kind.responsible_filter: user_id}
            params = kind.list_params(wanted)
            params.update({"select": [kind.id_key], "start": 0})
            params.pop("order", None)
            key = f"{name}_{user_id}"
            commands[key], owners[key] = (kind.list_method, params), (int(user_id), name)
    held: dict[int, dict[str, int]] = {int(u): dict.fromkeys(types, 0) for u in user_ids}
    if not commands:
        return held
    answer = client.run_batch(commands)
    answer.raise_first()
    for key, (user_id, name) in owners.items():
        total = answer.totals.get(key)
        held[user_id][name] = total if total is not None else _count(answer.results.get(key))
    return held


def _count(result: Any) -> int:
    """No total: fewer than a page (or the portal left it out): count the rows."""
    if isinstance(result, Mapping):
        result = next(iter(result.values()), [])
    return len(result) if isinstance(result, list) else 0

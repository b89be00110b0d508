"""Automatic change of responsible (seed 004) and the portal-wide transfer policy.

"If an employee is dismissed or marked in the absence chart, the CRM normally leaves them
responsible for companies, contacts and deals; here every company linked to them and its
contacts get a new manager, so there is always someone responsible for the client."

When automatic mode is on, a dismissal (and, if the administrator wants that too, an absence
that begins) re-points **every company of the user and every contact of those companies** to
the new manager at once, in one batch of the move engine. The contacts go whoever held them
(a contact of the client may have been someone else's): the client then has one manager. The
new manager is the department head or a named person (the policy) for a dismissal, and the
person covering for the user (portal_ext.absences) for an absence, whose change is given back
when the absence ends (the engine's restore: only what the manager still holds goes back).

Contacts are found by their company: ``COMPANY_ID`` and the multiple ``COMPANY_IDS`` (a contact
linked to two companies), each filter checked against the rows, because the portal ignores a
filter field it does not know and would answer with every contact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal_ext import moves
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.moves.models import TRANSFER
from portal_ext.moves.portal_calls import list_rows
from portal_ext.moves.types import ENTITY_TYPES as KINDS
from portal_ext.portal.client import PAGE_SIZE, PortalClient
from portal_ext.portal.models import Portal
from portal_ext.transfers import successors as people
from portal_ext.transfers.errors import PolicyError
from portal_ext.transfers.models import (
    AUTO_STRATEGIES,
    CONFIRM,
    HEAD,
    ON_DISMISSAL,
    PERSON,
    AutoChange,
    TransferPolicy,
)

_COMPANY = KINDS["company"]
_CONTACT = dataclasses.replace(
    KINDS["contact"], select=(*KINDS["contact"].select, "COMPANY_ID", "COMPANY_IDS"))


# -- the policy -----------------------------------------------------------------------------
def get_policy(portal_id: int) -> TransferPolicy:
    """The portal's policy (defaults when never saved; not added to the session)."""
    found = db.session.get(TransferPolicy, portal_id)
    if found is not None:
        return found
    return TransferPolicy(portal_id=portal_id, on_dismissal=CONFIRM, auto_mode=False,
                          auto_on_absence=False, strategy=HEAD, successor_id=None,
                          include_closed=True)


def save_policy(*, portal: Portal, actor: PortalUser | None, now: datetime, on_dismissal: str,
                auto_mode: bool, auto_on_absence: bool, strategy: str,
                successor_id: int | None, include_closed: bool) -> TransferPolicy:
    if on_dismissal not in ON_DISMISSAL:
        raise PolicyError("on_dismissal", _l("Choose confirm or automatic."))
    if strategy not in AUTO_STRATEGIES:
        raise PolicyError("strategy", _l("Choose the department head or a named person."))
    if strategy == PERSON:
        found = people.person(portal.id, successor_id)
        if found is None:
            raise PolicyError("successor_id", _l("Choose the person who takes over."))
        if not found.active:
            raise PolicyError("successor_id", _l(
                "%(name)s is dismissed and cannot take over items.", name=found.full_name))
    else:
        successor_id = None
    policy = db.session.get(TransferPolicy, portal.id)
    if policy is None:
        policy = TransferPolicy(portal_id=portal.id)
        db.session.add(policy)
    policy.on_dismissal, policy.auto_mode = on_dismissal, bool(auto_mode)
    policy.auto_on_absence = bool(auto_on_absence)
    policy.strategy, policy.successor_id = strategy, successor_id
    policy.include_closed = bool(include_closed)
    policy.updated_by_id = actor.portal_user_id if actor is not None else None
    policy.updated_at = now
    db.session.commit()
    return policy


def policy_successor(portal_id: int, policy: TransferPolicy, user: Any) -> int | None:
    """Who automatic actions give a dismissed user's items to (None: nobody fits)."""
    if policy.strategy == PERSON:
        found = people.person(portal_id, policy.successor_id)
        ok = found is not None and found.active and found.portal_user_id != user.portal_user_id
        return found.portal_user_id if ok and found is not None else None
    return people.department_head(portal_id, user)


# -- finding the client -----------------------------------------------------------------------
def companies_and_contacts(client: PortalClient, user_id: int
                           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The user's companies, and every contact linked to one of them (any owner)."""
    companies = list(list_rows(client, _COMPANY, {_COMPANY.responsible_filter: user_id}))
    ids = {_COMPANY.row_id(row) for row in companies}
    contacts: dict[int, dict[str, Any]] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), PAGE_SIZE):
        chunk = ordered[start:start + PAGE_SIZE]
        for key in ("@COMPANY_ID", "@COMPANY_IDS"):
            for row in list_rows(client, _CONTACT, {key: chunk}):
                if _linked(row, ids):
                    contacts[_CONTACT.row_id(row)] = row
    return companies, [contacts[i] for i in sorted(contacts)]


def _linked(row: dict[str, Any], company_ids: set[int]) -> bool:
    linked = {row.get("COMPANY_ID"), *(row.get("COMPANY_IDS") or [])}
    return any(_int(v) in company_ids for v in linked)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# -- the change -------------------------------------------------------------------------------
def change_responsible(*, portal: Portal, client: PortalClient, user_id: int,
                       successor_id: int, reason: str, source_id: int, now: datetime
                       ) -> AutoChange:
    """Re-point the user's companies and their contacts to ``successor_id`` in one batch
    (journaled, then applied by the engine's job). Once per (reason, source): a second call
    returns the first change. Commits."""
    existing = db.session.scalars(select(AutoChange).where(
        AutoChange.portal_id == portal.id, AutoChange.reason == reason,
        AutoChange.source_id == source_id)).first()
    if existing is not None:
        return existing
    companies, contacts = companies_and_contacts(client, user_id)
    change = AutoChange(portal_id=portal.id, reason=reason, source_id=source_id,
                        user_id=user_id, successor_id=successor_id, created_at=now)
    db.session.add(change)
    holders = [_COMPANY.responsible(r) for r in companies] + \
              [_CONTACT.responsible(r) for r in contacts]
    if all(holder in (None, successor_id) for holder in holders):  # nothing to change
        db.session.commit()
        return change
    batch = moves.new_batch(
        portal_id=portal.id, kind=TRANSFER, owner_id=user_id, to_user_id=successor_id,
        live_key=f"auto:{reason}:{source_id}", created_by=None, created_at=now,
        options={"types": ["company", "contact"], "include_closed": True,
                 "strategy": "auto", "auto": reason, "source_id": source_id})
    # Every item goes from whoever holds it now (a contact of the client may be someone
    # else's) to the successor.
    moves.plan(batch, client=client, to_user_for=lambda _t, _r: successor_id,
               listed={"company": companies, "contact": contacts})
    moves.prepare(batch, client)  # before the job: see services.apply_transfer
    change.batch_id = batch.id
    moves.start_applying(batch)
    return change


def changes_of(portal_id: int, user_ids: Iterable[int]) -> list[AutoChange]:
    wanted = list(user_ids)
    return list(db.session.scalars(select(AutoChange).where(
        AutoChange.portal_id == portal_id, AutoChange.user_id.in_(wanted or [0]))
        .order_by(AutoChange.id.desc())))

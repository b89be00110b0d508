"""The grid of handovers and of transfers (portal_ext.blueprints.grid): who, to whom, how many
items, the state and when, with filters by person, state and period."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta, tzinfo
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, or_, select

from portal_ext.absences.times import day_start
from portal_ext.blueprints.grid import (
    DATE,
    PERSON,
    Column,
    Filter,
    Grid,
    Search,
    matching_people,
    person_choices,
    person_sort,
)
from portal_ext.moves.models import BATCH_STATES, MoveBatch


def batch_query(portal_id: int, kind: str, owners: list[int] | None) -> Select[Any]:
    """The batches of ``kind`` on the portal; ``owners``: only those of these people (None:
    everyone's)."""
    query = select(MoveBatch).where(MoveBatch.portal_id == portal_id, MoveBatch.kind == kind)
    return query if owners is None else query.where(MoveBatch.owner_id.in_(owners))


def batch_grid(*, names: Mapping[int, str], people: list[int] | None, tz: tzinfo,
               state_labels: Mapping[str, Any], third: tuple[Any, Callable[[MoveBatch], str]],
               filename: str) -> Grid:
    """``people``: whom the person filter offers (None: everyone named); ``third``: the
    header and the text of the column saying where the items went."""

    def name(uid: int | None) -> str:
        return "" if uid is None else names.get(uid, f"#{uid}")

    def involves(uids: list[int]) -> Any:
        return or_(MoveBatch.owner_id.in_(uids), MoveBatch.to_user_id.in_(uids))

    states = [s for s in BATCH_STATES if s in state_labels]
    return Grid(
        columns=[
            Column("id", "#", lambda b: b.id, sort=MoveBatch.id),
            Column("owner", _("From"), lambda b: name(b.owner_id),
                   sort=person_sort(MoveBatch.portal_id, MoveBatch.owner_id)),
            Column("to", third[0], third[1],
                   sort=person_sort(MoveBatch.portal_id, MoveBatch.to_user_id)),
            Column("items", _("Items"), lambda b: sum(int(v or 0) for v in
                                                      (b.counts or {}).values())),
            Column("state", _("State"), lambda b: str(state_labels.get(b.state, b.state)),
                   sort=MoveBatch.state),
            Column("created", _("Created"), lambda b: b.created_at, sort=MoveBatch.created_at)],
        filters=[
            Filter("user", _("Person"), kind=PERSON, choices=person_choices(names, people),
                   where=lambda uid: involves([uid])),
            Filter("state", _("State"), choices=[(s, state_labels[s]) for s in states],
                   where=lambda state: MoveBatch.state == state),
            Filter("from", _("Created from"), kind=DATE,
                   where=lambda day: MoveBatch.created_at >= day_start(day, tz)),
            Filter("to", _("Created until"), kind=DATE, not_before="from",
                   where=lambda day: MoveBatch.created_at < day_start(
                       day + timedelta(days=1), tz))],
        search=Search(_("Search by name"),
                      where=lambda text: involves(matching_people(names, text))),
        order=(MoveBatch.id.desc(),), filename=filename)

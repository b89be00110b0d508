"""The month calendar of a department: a grid of days by people, each day either free or
covered by one absence (shown with its kind and deputy).

A department's people are its members and the members of its sub-departments (the head of
Sales sees both business lines), dismissed people left out. Days are the portal's local days.
"""

from __future__ import annotations

import calendar as month_days
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo

from sqlalchemy import select

from portal_ext.absences.models import Absence
from portal_ext.absences.times import day_start
from portal_ext.directory.models import Department, PortalUser
from portal_ext.extensions import db


@dataclass
class Row:
    person: PortalUser
    cells: list[Absence | None]

    @property
    def runs(self) -> list[int]:
        """For each day: how many days the absence starting a run there lasts in this month
        (0 inside a run and on free days), so a label can span its run."""
        lengths = [0] * len(self.cells)
        start = 0
        for index in range(1, len(self.cells) + 1):
            if index == len(self.cells) or self.cells[index] is not self.cells[start]:
                if self.cells[start] is not None:
                    lengths[start] = index - start
                start = index
        return lengths


@dataclass
class MonthGrid:
    first: date
    days: list[date]
    rows: list[Row] = field(default_factory=list)
    absences: list[Absence] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # portal user id -> full name

    @property
    def previous(self) -> date:
        return (self.first - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date:
        return self.first + timedelta(days=len(self.days))


def subtree(department_id: int, departments: list[Department]) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for dept in departments:
        children.setdefault(dept.parent_portal_id, []).append(dept.portal_department_id)
    found: set[int] = set()
    queue = [department_id]
    while queue:
        current = queue.pop()
        if current not in found:
            found.add(current)
            queue.extend(children.get(current, []))
    return found


def month_grid(*, portal_id: int, department_id: int | None, month: date,
               tz: tzinfo) -> MonthGrid:
    """The grid for ``month`` (any day of it) and the department (None: everyone)."""
    first = month.replace(day=1)
    days = [first + timedelta(days=i) for i in range(month_days.monthrange(first.year,
                                                                          first.month)[1])]
    grid = MonthGrid(first, days)
    people = list(db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal_id).order_by(PortalUser.last_name, PortalUser.name)))
    grid.names = {p.portal_user_id: p.full_name for p in people}
    members = [p for p in people if p.active]
    if department_id is not None:
        departments = list(db.session.scalars(select(Department).where(
            Department.portal_id == portal_id)))
        wanted = subtree(department_id, departments)
        members = [p for p in members if wanted.intersection(p.department_ids or [])]
    starts = [day_start(day, tz) for day in [*days, grid.next]]
    ids = [p.portal_user_id for p in members]
    grid.absences = list(db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.user_id.in_(ids or [0]),
        Absence.start < starts[-1], Absence.end > starts[0]).order_by(Absence.start)))
    by_user: dict[int, list[Absence]] = {}
    for absence in grid.absences:
        by_user.setdefault(absence.user_id, []).append(absence)
    for person in members:
        mine = by_user.get(person.portal_user_id, [])
        cells: list[Absence | None] = []
        for index in range(len(days)):
            begins, ends = starts[index], starts[index + 1]
            cells.append(next((a for a in mine if a.start < ends and a.end > begins), None))
        grid.rows.append(Row(person, cells))
    return grid

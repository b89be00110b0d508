"""The postponements report: one line per manager (the tasks' responsible), from the audit.

For each manager: the tasks whose deadline changed, the postponements that went through
(accepted, approved or by someone exempt), their total delay in days, the share of them
without a reason, the attempts stopped (vetoed on-site or reverted), and their open tasks
whose deadline has passed (``overdue_now``, read from the portal when the report is made:
services.overdue_now). The chart stacks each manager's postponements by outcome
(``ManagerLine.attempts``). Heads see the people of their departments, anyone else their own line
(services._overseen_people).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal_ext.deadlines.models import ACCEPTED, APPROVED, DECLINED, EXEMPT, REVERTED, VETOED

PASSED = (ACCEPTED, APPROVED, EXEMPT)
STOPPED = (VETOED, REVERTED)
# The chart's segments, in the order drawn: what went through, then what did not.
CHART_OUTCOMES: tuple[str, ...] = (ACCEPTED, APPROVED, EXEMPT, VETOED, REVERTED, DECLINED)


@dataclass
class ManagerLine:
    user_id: int
    name: str
    tasks: set[int] = field(default_factory=set)
    postponements: int = 0
    delay_days: float = 0.0
    without_reason: int = 0
    stopped: int = 0
    by_outcome: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Postponements and attempts at one (vetoed, reverted, declined) per outcome: the chart.
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    overdue_now: int | None = 0  # None: the portal could not be read

    @property
    def share_without_reason(self) -> float:
        return self.without_reason / self.postponements if self.postponements else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "name": self.name, "tasks": len(self.tasks),
                "postponements": self.postponements,
                "delay_days": round(self.delay_days, 2),
                "share_without_reason": round(self.share_without_reason, 4),
                "stopped_attempts": self.stopped, "by_outcome": dict(self.by_outcome),
                "overdue_now": self.overdue_now}


def lines(changes: Iterable[Any], names: dict[int, str],
          overdue: Mapping[int, int] | None = None) -> list[ManagerLine]:
    """The report's lines from audit rows (``DeadlineChange``-like), by name, with each
    manager's tasks overdue now (``overdue``: responsible -> count; a manager with overdue
    tasks and no changes gets a line too; None: unknown).

    >>> from types import SimpleNamespace as Row
    >>> from datetime import datetime as dt
    >>> rows = [Row(responsible_id=5, task_id=1, outcome="accepted", postponement_no=1,
    ...             old_deadline=dt(2030, 1, 1), new_deadline=dt(2030, 1, 3), reason=None),
    ...         Row(responsible_id=5, task_id=1, outcome="vetoed", postponement_no=None,
    ...             old_deadline=dt(2030, 1, 3), new_deadline=dt(2030, 1, 9), reason=None)]
    >>> line, = lines(rows, {5: "O. Nikitina"})
    >>> (len(line.tasks), line.postponements, line.delay_days, line.stopped)
    (1, 1, 2.0, 1)
    >>> dict(line.attempts)
    {'accepted': 1, 'vetoed': 1}
    >>> [(l.user_id, l.postponements, l.overdue_now) for l in lines(rows, {}, {5: 2, 7: 1})]
    [(5, 1, 2), (7, 0, 1)]
    """
    found: dict[int, ManagerLine] = {}

    def line_of(person: int) -> ManagerLine:
        return found.setdefault(person, ManagerLine(person, names.get(person, f"#{person}")))

    for row in changes:
        person = row.responsible_id
        if person is None:
            continue
        line = line_of(person)
        line.tasks.add(row.task_id)
        line.by_outcome[row.outcome] += 1
        if row.outcome in STOPPED or row.outcome == DECLINED:
            line.attempts[row.outcome] += 1
        if row.outcome in STOPPED:
            line.stopped += 1
        elif row.outcome in PASSED and row.postponement_no is not None:
            line.postponements += 1
            line.attempts[row.outcome] += 1
            if not row.reason:
                line.without_reason += 1
            if row.old_deadline is not None and row.new_deadline is not None:
                line.delay_days += max(0.0, (row.new_deadline - row.old_deadline)
                                       .total_seconds() / 86400)
    for person, count in (overdue or {}).items():
        if count:
            line_of(person)
    for line in found.values():
        line.overdue_now = None if overdue is None else overdue.get(line.user_id, 0)
    return sorted(found.values(), key=lambda line: (line.name, line.user_id))


CSV_HEADER = ("user_id", "name", "tasks", "postponements", "delay_days",
              "share_without_reason", "stopped_attempts", "overdue_now")


def as_csv(report: list[ManagerLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for line in report:
        row = line.as_dict()
        writer.writerow(["" if row[key] is None else row[key] for key in CSV_HEADER])
    return out.getvalue()


def period(since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {"since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None}

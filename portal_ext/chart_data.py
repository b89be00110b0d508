"""The charts the report pages show, built from the domains' report functions
(portal_ext.charts draws them). Templates call these through the globals
:func:`portal_ext.charts.init_app` registers; nothing here writes.

- :func:`batch_charts`: a handover's or a transfer's items per kind (planned while it is a
  preview or scheduled, else moved) and per person they go to (when more than one);
- :func:`delivery_chart`: copies recorded per day over the last 30 days of the portal's
  calendar, of the deliveries the viewer may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date

from flask_babel import format_date, gettext

from portal_ext.charts import Chart, Point, bar_chart
from portal_ext.context import Context, here
from portal_ext.handover.report import Report, per_person
from portal_ext.moves.models import PREVIEW, SCHEDULED, TRANSFER, MoveBatch
from portal_ext.moves.types import ENTITY_TYPES
from portal_ext.notifications.log import DayCount, deliveries_per_day

DELIVERY_DAYS = 30


def kind_points(report: Report, kinds: list[str], column: str) -> list[Point]:
    """One point per kind of the run, in the run's order."""
    return [Point(name, str(ENTITY_TYPES[name].label) if name in ENTITY_TYPES else name,
                  int(report.rows.get(name, {}).get(column, 0))) for name in kinds]


def batch_charts(batch: MoveBatch, report: Report, names: Mapping[int, str]) -> list[Chart]:
    """The charts of a handover's or a transfer's page."""
    planned = batch.state in (PREVIEW, SCHEDULED)
    column = "planned" if planned else "moved"
    transfer = batch.kind == TRANSFER
    charts = [bar_chart(
        f"chart-kinds-{batch.id}",
        gettext("Items per kind"),
        (gettext("How many items of each kind would move.") if planned else
         gettext("How many items of each kind were transferred.") if transfer else
         gettext("How many items of each kind were handed over.")),
        kind_points(report, list(batch.types), column))]
    people = per_person(batch.id)
    if len(people) > 1:
        charts.append(bar_chart(
            f"chart-people-{batch.id}",
            gettext("Items per person"),
            gettext("How many items each person receives."),
            [Point(str(uid), names.get(uid, f"#{uid}"), count)
             for uid, count in people.items()]))
    return charts


def delivery_points(counts: list[DayCount]) -> list[Point]:
    return [Point(c.day.isoformat(), format_date(c.day, "d MMM"), c.copies,
                  tick=n % 5 == 0 or n == len(counts) - 1) for n, c in enumerate(counts)]


def delivery_chart(ctx: Context | None = None) -> tuple[Chart, list[DayCount]]:
    """Copies per day over the last 30 days of the portal's calendar, of the deliveries the
    request's user sees, and the counts behind them (for the table)."""
    ctx = ctx or here()
    if ctx.actor is None:
        raise ValueError("the delivery chart is someone's: the context has no actor")
    today: date = ctx.now.replace(tzinfo=UTC).astimezone(ctx.tz).date()
    counts = deliveries_per_day(portal=ctx.portal, viewer=ctx.actor, today=today, tz=ctx.tz,
                                days=DELIVERY_DAYS)
    chart = bar_chart("chart-deliveries", gettext("Copies per day"),
                      gettext("Copies of notifications recorded each day over the last "
                              "%(days)s days.", days=DELIVERY_DAYS),
                      delivery_points(counts), layout="columns")
    return chart, counts

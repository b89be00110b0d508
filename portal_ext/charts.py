"""Bar charts drawn on the server as SVG: no script, no library, readable without colour.

A chart is computed here (the geometry) and drawn by the macro ``bar_chart`` in
``templates/_chart.html``, which also puts the numbers in a table beside the picture (inside a
``<details>``), gives the SVG a title and a description for screen readers, and formats every
number in the page's language.

Two layouts:

- ``rows``: one horizontal bar per category (kinds, people), the label on the left, the number
  at the end of the bar; long labels are cut with an ellipsis (the table has them whole);
- ``columns``: one vertical bar per point of a series (days), a label under every few.

Worked example::

    chart = bar_chart("per-kind", "Items per kind", "How many items of each kind moved.",
                      [Point("deal", "Deals", 12), Point("contact", "Contacts", 31)])
    [(b.key, b.value) for b in chart.bars]  # [("deal", 12), ("contact", 31)]
    chart.bars[1].length == chart.plot_width  # the largest bar spans the plot

The pages hook in with ``{% include %}`` lines: ``_batch_charts.html`` on a handover's and a
transfer's page, ``_delivery_chart.html`` on the deliveries page; the data come from the
domains' report functions, exposed to the templates by :func:`init_app`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

ROW_HEIGHT = 28
BAR_THICKNESS = 18
CHAR_WIDTH = 7.2  # an average glyph at 12 px, for the label column
LABEL_MAX_CHARS = 28
VALUE_ROOM = 56  # room right of the longest bar for its number
WIDTH = 480  # rows: drawn at most this wide (never scaled up), narrower on a phone
COLUMNS_WIDTH = 560
COLUMN_HEIGHT = 160


@dataclass(frozen=True)
class Point:
    key: str  # stable, for tests and styling (``deal``, a user id, ``2026-12-07``)
    label: str  # what people read (already translated)
    value: int
    tick: bool = True  # columns: print the label under this one


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    short_label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    tick: bool

    @property
    def length(self) -> float:
        return max(self.width, self.height)


@dataclass
class Chart:
    id: str
    title: str
    description: str
    layout: str  # rows | columns
    bars: list[Bar] = field(default_factory=list)
    width: int = WIDTH
    height: int = 0
    label_width: float = 0.0
    plot_width: float = 0.0
    plot_height: float = 0.0
    maximum: int = 0

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)

    @property
    def empty(self) -> bool:
        return not self.bars or self.maximum == 0


def _short(label: str) -> str:
    return label if len(label) <= LABEL_MAX_CHARS else label[:LABEL_MAX_CHARS - 1] + "…"


def bar_chart(chart_id: str, title: str, description: str, points: Sequence[Point], *,
              layout: str = "rows") -> Chart:
    """The geometry of a bar chart of ``points`` (see the module docstring)."""
    if layout not in ("rows", "columns"):
        raise ValueError(f"unknown layout: {layout}")
    maximum = max((p.value for p in points), default=0)
    chart = Chart(chart_id, title, description, layout, maximum=maximum)
    scale_of = (lambda room: room / maximum) if maximum else (lambda room: 0.0)
    if layout == "rows":
        longest = max((len(_short(p.label)) for p in points), default=0)
        chart.label_width = min(WIDTH * 0.45, 12 + longest * CHAR_WIDTH)
        chart.plot_width = WIDTH - chart.label_width - VALUE_ROOM
        chart.height = max(1, len(points)) * ROW_HEIGHT + 8
        scale = scale_of(chart.plot_width)
        for n, p in enumerate(points):
            chart.bars.append(Bar(p.key, p.label, _short(p.label), p.value,
                                  x=chart.label_width, y=4 + n * ROW_HEIGHT
                                  + (ROW_HEIGHT - BAR_THICKNESS) / 2,
                                  width=p.value * scale, height=BAR_THICKNESS, tick=True))
        return chart
    chart.width = COLUMNS_WIDTH
    chart.plot_height = COLUMN_HEIGHT
    chart.height = COLUMN_HEIGHT + 40  # numbers above, labels below
    slot = COLUMNS_WIDTH / max(1, len(points))
    thickness = max(2.0, slot * 0.7)
    scale = scale_of(COLUMN_HEIGHT)
    for n, p in enumerate(points):
        height = p.value * scale
        chart.bars.append(Bar(p.key, p.label, p.label, p.value,
                              x=n * slot + (slot - thickness) / 2,
                              y=16 + COLUMN_HEIGHT - height, width=thickness, height=height,
                              tick=p.tick))
    return chart


def init_app(app: Flask) -> None:
    """Give the chart includes their data: the domains' report functions, as template
    globals (the views stay as they are)."""
    from portal_ext.chart_data import batch_charts, delivery_chart

    globals_: dict[str, Any] = {"batch_charts": batch_charts, "delivery_chart": delivery_chart}
    app.jinja_env.globals.update(globals_)

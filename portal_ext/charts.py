"""Bar charts drawn on the server as SVG: no script, no library, readable without colour.

A chart is computed here (the geometry) and drawn by the macro ``bar_chart`` in
``templates/_chart.html``, which also puts the numbers in a table beside the picture (inside a
``<details>``), gives the SVG a title and a description for screen readers, and formats every
number in the page's language.

Two layouts:

- ``rows``: one horizontal bar per category (kinds, people), the label on the left, the number
  at the end of the bar; long labels are cut with an ellipsis (the table has them whole);
- ``columns``: one vertical bar per point of a series (days), a label under every few.

A bar may be **stacked**: a point with ``segments`` (``(key, label, value)`` in the order
drawn, the same keys for every point) is drawn as its segments end to end, each segment
filled with its series' pattern as well as its colour (solid, stripes, dots, ...), so they
tell apart without colour; the chart gets a legend (``chart.legend``) with the same
swatches, and the numbers table a column per segment. :func:`stacked` makes such a point,
its value the sum of its segments.

Worked example::

    chart = bar_chart("per-kind", "Items per kind", "How many items of each kind moved.",
                      [Point("deal", "Deals", 12), Point("contact", "Contacts", 31)])
    [(b.key, b.value) for b in chart.bars]  # [("deal", 12), ("contact", 31)]
    chart.bars[1].length == chart.plot_width  # the largest bar spans the plot

    chart = bar_chart("per-outcome", "Per manager", "",
                      [stacked("5", "A. Ivanova", [("ok", "OK", 3), ("late", "Late", 1)])])
    [(s.key, s.value, s.pattern) for s in chart.bars[0].segments]  # [("ok", 3, 0), ("late", 1, 1)]
    [entry.label for entry in chart.legend]  # ["OK", "Late"]

The pages hook in with ``{% include %}`` lines: ``_batch_charts.html`` on a handover's and a
transfer's page, ``_delivery_chart.html`` on the deliveries page; the data come from the
domains' report functions, exposed to the templates by :func:`init_app`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
PATTERNS = 8  # fills a stacked bar's segments cycle through (templates/_chart.html)


@dataclass(frozen=True)
class Point:
    key: str  # stable, for tests and styling (``deal``, a user id, ``2026-12-07``)
    label: str  # what people read (already translated)
    value: int
    tick: bool = True  # columns: print the label under this one
    # A stacked bar: (key, label, value) per segment, in the order drawn; they sum to value.
    segments: tuple[tuple[str, str, int], ...] = ()


def stacked(key: str, label: str, segments: Sequence[tuple[str, str, int]], *,
            tick: bool = True) -> Point:
    """A stacked bar's point, its value the sum of its segments."""
    return Point(key, label, sum(value for _, _, value in segments), tick, tuple(segments))


@dataclass(frozen=True)
class Segment:
    key: str
    label: str
    value: int
    pattern: int  # which fill (0 .. PATTERNS - 1): the same for the same key in every bar
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class LegendEntry:
    key: str
    label: str
    pattern: int
    total: int


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
    segments: tuple[Segment, ...] = ()

    def segment(self, key: str) -> int:
        """The value of this bar's segment ``key`` (0 if it has none)."""
        return next((s.value for s in self.segments if s.key == key), 0)

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
    legend: list[LegendEntry] = field(default_factory=list)  # a stacked chart's series

    @property
    def stacked(self) -> bool:
        return bool(self.legend)

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)

    @property
    def empty(self) -> bool:
        return not self.bars or self.maximum == 0


def _short(label: str) -> str:
    return label if len(label) <= LABEL_MAX_CHARS else label[:LABEL_MAX_CHARS - 1] + "…"


def _legend(points: Sequence[Point], chosen: Mapping[str, int]) -> list[LegendEntry]:
    """A stacked chart's series, in the order their keys first come, with their totals and
    their fills (``chosen``, else by that order)."""
    labels: dict[str, str] = {}
    totals: dict[str, int] = {}
    for p in points:
        if p.segments and sum(value for _, _, value in p.segments) != p.value:
            raise ValueError(f"the segments of {p.key} do not sum to its value")
        for key, label, value in p.segments:
            labels.setdefault(key, label)
            totals[key] = totals.get(key, 0) + value
    return [LegendEntry(key, label, chosen.get(key, n) % PATTERNS, totals[key])
            for n, (key, label) in enumerate(labels.items())]


def _segments(p: Point, fills: dict[str, int], scale: float, *, x: float, y: float,
              thickness: float, horizontal: bool) -> tuple[Segment, ...]:
    """The segments of one bar, end to end from (x, y): rightwards in rows, upwards in
    columns (``y`` is then the bar's bottom)."""
    found = []
    for key, label, value in p.segments:
        length = value * scale
        if horizontal:
            found.append(Segment(key, label, value, fills[key], x, y, length, thickness))
            x += length
        else:
            y -= length
            found.append(Segment(key, label, value, fills[key], x, y, thickness, length))
    return tuple(found)


def bar_chart(chart_id: str, title: str, description: str, points: Sequence[Point], *,
              layout: str = "rows", patterns: Mapping[str, int] | None = None) -> Chart:
    """The geometry of a bar chart of ``points`` (see the module docstring); ``patterns``
    picks a stacked chart's fill per segment key (e.g. a red one for "overdue")."""
    if layout not in ("rows", "columns"):
        raise ValueError(f"unknown layout: {layout}")
    maximum = max((p.value for p in points), default=0)
    chart = Chart(chart_id, title, description, layout, maximum=maximum,
                  legend=_legend(points, patterns or {}))
    fills = {entry.key: entry.pattern for entry in chart.legend}
    scale_of = (lambda room: room / maximum) if maximum else (lambda room: 0.0)
    if layout == "rows":
        longest = max((len(_short(p.label)) for p in points), default=0)
        chart.label_width = min(WIDTH * 0.45, 12 + longest * CHAR_WIDTH)
        chart.plot_width = WIDTH - chart.label_width - VALUE_ROOM
        chart.height = max(1, len(points)) * ROW_HEIGHT + 8
        scale = scale_of(chart.plot_width)
        for n, p in enumerate(points):
            y = 4 + n * ROW_HEIGHT + (ROW_HEIGHT - BAR_THICKNESS) / 2
            chart.bars.append(Bar(p.key, p.label, _short(p.label), p.value,
                                  x=chart.label_width, y=y,
                                  width=p.value * scale, height=BAR_THICKNESS, tick=True,
                                  segments=_segments(p, fills, scale, x=chart.label_width,
                                                     y=y, thickness=BAR_THICKNESS,
                                                     horizontal=True)))
        return chart
    chart.width = COLUMNS_WIDTH
    chart.plot_height = COLUMN_HEIGHT
    chart.height = COLUMN_HEIGHT + 40  # numbers above, labels below
    slot = COLUMNS_WIDTH / max(1, len(points))
    thickness = max(2.0, slot * 0.7)
    scale = scale_of(COLUMN_HEIGHT)
    for n, p in enumerate(points):
        height = p.value * scale
        x = n * slot + (slot - thickness) / 2
        chart.bars.append(Bar(p.key, p.label, p.label, p.value, x=x,
                              y=16 + COLUMN_HEIGHT - height, width=thickness, height=height,
                              tick=p.tick,
                              segments=_segments(p, fills, scale, x=x,
                                                 y=16 + COLUMN_HEIGHT, thickness=thickness,
                                                 horizontal=False)))
    return chart


def init_app(app: Flask) -> None:
    """Give the chart includes their data: the domains' report functions, as template
    globals (the views stay as they are)."""
    from portal_ext.chart_data import batch_charts, delivery_chart

    globals_: dict[str, Any] = {"batch_charts": batch_charts, "delivery_chart": delivery_chart}
    app.jinja_env.globals.update(globals_)

"""Lists as grids: search, filters, sortable columns, paging and CSV export, in one place.

A page declares its grid (columns, filters, search) and hands it the rows the viewer may see:
either a SQLAlchemy ``select`` (filtered, sorted and paged in the database) or a list of
objects (when the rule of who may see whom runs in Python, as for the portal's users). Who
may see what is decided before the rows reach the grid (portal_ext.directory.access and each
domain's listing); the grid only narrows them.

The whole view lives in the query string, so a link shows the same view:

=========== ========================================================================
``q``       search text (at most 100 characters)
``<filter>``one value per filter (a choice, a person's portal id, a date ``YYYY-MM-DD``)
``sort``    a sortable column's key, ``-key`` for descending
``page``    1, 2, ...; a page past the last shows the last
``per_page``one of 25, 50, 100, 200
``format``  ``csv``: every row of the filtered view (all pages), UTF-8 with a BOM so a
            spreadsheet reads Cyrillic names, the headers in the viewer's language
=========== ========================================================================

A bad value is refused with 400 and a page naming the parameter; nothing is guessed.
Parameters the grid does not know are left alone (the page may use them).

A list becomes a grid in its view::

    grid = Grid(columns=[Column("who", _("Who"), lambda row: names[row.user_id],
                                sort=person_sort(Row.portal_id, Row.user_id)), ...],
                filters=[Filter("state", _("State"), choices=[...],
                                where=lambda state: Row.state == state)],
                search=Search(_("Search by name"), where=lambda text: ...),
                order=(Row.id.desc(),), filename="rows").read()
    return grid.respond(rows_the_viewer_may_see, "area/rows.html", names=names)

and in its template with ``{% import "_grid.html" as g with context %}``:
``g.controls(grid, "rows")`` (the form), ``g.th(grid, "who")`` per sortable header and
``g.pager(grid, page)`` under the table.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import Response, abort, make_response, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from portal_ext.absences.times import to_local
from portal_ext.blueprints.errors import error_page
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.paging import Page
from portal_ext.portal.clock import portal_zone

SEARCH, SORT, PAGE, PER_PAGE, FORMAT = "q", "sort", "page", "per_page", "format"
RESERVED = (SEARCH, SORT, PAGE, PER_PAGE, FORMAT)
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 50
MAX_SEARCH = 100
CHOICE, PERSON, DATE, CODE = "choice", "person", "date", "code"
_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class BadParameter(Exception):
    """A query-string value the grid cannot use; ``name`` is the parameter."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class Column:
    """A column of the grid. ``value`` gives the row's cell for the CSV (plain text or a
    number); ``sort`` makes it sortable: a SQL expression (or a tuple of them) for a
    ``select``, a key function for a list."""

    key: str
    label: Any
    value: Callable[[Any], Any]
    sort: Any = None

    @property
    def sortable(self) -> bool:
        return self.sort is not None


@dataclass(frozen=True)
class Filter:
    """One filter control. ``kind``: ``choice`` (one of ``choices``' values), ``person`` (a
    portal user id among ``choices``), ``code`` (a word such as an event name, not
    necessarily listed: ``choices`` only offer the known ones) or ``date``.

    ``where(value)`` gives the SQL condition for a ``select``; ``match(row, value)`` tests a
    row of a list. ``not_before`` names the date filter this one may not precede (``to``
    after ``from``)."""

    key: str
    label: Any
    kind: str = CHOICE
    choices: Sequence[tuple[Any, Any]] = ()
    where: Callable[[Any], Any] | None = None
    match: Callable[[Any, Any], bool] | None = None
    not_before: str | None = None

    def parse(self, raw: str) -> Any:
        if self.kind == DATE:
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise BadParameter(self.key, _("expected a date as YYYY-MM-DD")) from None
        if self.kind == PERSON:
            try:
                value: Any = int(raw)
            except ValueError:
                raise BadParameter(self.key, _("expected a person's number")) from None
            if value not in {v for v, _label in self.choices}:
                raise BadParameter(self.key, _("no such person in this list"))
            return value
        if self.kind == CODE:
            if not _CODE.match(raw):
                raise BadParameter(self.key, _("expected a single word"))
            return raw.upper()
        if raw not in {str(v) for v, _label in self.choices}:
            allowed = ", ".join(str(v) for v, _label in self.choices)
            raise BadParameter(self.key, _("expected one of: %(allowed)s", allowed=allowed))
        return next(v for v, _label in self.choices if str(v) == raw)


@dataclass(frozen=True)
class Search:
    """The search box: ``where(text)`` for a ``select``, ``match(row, text)`` for a list
    (``text`` is casefolded)."""

    label: Any
    where: Callable[[str], Any] | None = None
    match: Callable[[Any, str], bool] | None = None


def contains(haystack: Iterable[str | None], needle: str) -> bool:
    """Whether any of ``haystack`` contains ``needle`` (already casefolded), ignoring case in
    any alphabet (SQLite's ``lower`` knows only ASCII, so names are matched in Python)."""
    return any(needle in (text or "").casefold() for text in haystack)


def matching_people(names: Mapping[int, str], needle: str) -> list[int]:
    """Portal user ids whose name contains ``needle`` (casefolded)."""
    return [uid for uid, name in names.items() if needle in name.casefold()]


def person_sort(portal_id: Any, user_id: Any) -> Any:
    """A sort key for a column holding a portal user id: the person's last name, then first
    name (a correlated subquery: no join needed)."""
    return select(PortalUser.last_name + " " + PortalUser.name).where(
        PortalUser.portal_id == portal_id,
        PortalUser.portal_user_id == user_id).scalar_subquery()


def person_choices(names: Mapping[int, str],
                   visible: Iterable[int] | None = None) -> list[tuple[int, str]]:
    """The choices of a person filter: the ``visible`` people (None: everyone named), by
    name."""
    allowed = set(names) if visible is None else set(visible)
    return sorted(((uid, name) for uid, name in names.items() if uid in allowed),
                  key=lambda pair: pair[1].casefold())


@dataclass
class Grid:
    """The declaration of a list and, once :meth:`read`, the view the request asks for."""

    columns: Sequence[Column]
    filters: Sequence[Filter] = ()
    search: Search | None = None
    default_sort: str | None = None  # a column key, "-key" for descending; None: ``order``
    order: Sequence[Any] = ()  # the order when no column is chosen (SQL), then a tie-break
    filename: str = "list"
    # -- the view (set by ``read``) --
    values: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    sort: str | None = None
    page_number: int = 1
    per_page: int = DEFAULT_PER_PAGE
    csv: bool = False
    endpoint: str | None = None
    view_args: dict[str, Any] = field(default_factory=dict)

    # -- reading the query string -------------------------------------------------------------
    def read(self, args: Mapping[str, str] | None = None) -> Grid:
        """Take the view from the query string (the request's by default); a bad value ends
        the request with 400 naming the parameter."""
        try:
            self._parse(request.args if args is None else args)
        except BadParameter as bad:
            abort(make_response(error_page(
                400, _("Bad request"),
                _("The parameter “%(name)s” is not valid: %(reason)s.", name=bad.name,
                  reason=bad.message))))
        self.endpoint = request.endpoint
        self.view_args = dict(request.view_args or {})
        return self

    def _parse(self, args: Mapping[str, str]) -> None:
        by_key = {c.key: c for c in self.columns}
        for flt in self.filters:
            raw = (args.get(flt.key) or "").strip()
            if raw:
                self.values[flt.key] = flt.parse(raw)
        for flt in self.filters:
            earlier = self.values.get(flt.not_before or "")
            if earlier is not None and self.values.get(flt.key) is not None \
                    and self.values[flt.key] < earlier:
                raise BadParameter(flt.key, _("the end of the period is before its start"))
        text = (args.get(SEARCH) or "").strip()
        if len(text) > MAX_SEARCH:
            raise BadParameter(SEARCH, _("at most %(count)s characters", count=MAX_SEARCH))
        self.text = text
        sort = (args.get(SORT) or "").strip() or None
        if sort is not None:
            column = by_key.get(sort.removeprefix("-"))
            if column is None or not column.sortable:
                allowed = ", ".join(c.key for c in self.columns if c.sortable)
                raise BadParameter(SORT, _("expected one of: %(allowed)s", allowed=allowed))
        self.sort = sort or self.default_sort
        self.page_number = _positive(args, PAGE, 1)
        per_page = _positive(args, PER_PAGE, DEFAULT_PER_PAGE)
        if per_page not in PAGE_SIZES:
            raise BadParameter(PER_PAGE, _("expected one of: %(allowed)s",
                                           allowed=", ".join(map(str, PAGE_SIZES))))
        self.per_page = per_page
        fmt = (args.get(FORMAT) or "html").strip()
        if fmt not in ("html", "csv"):
            raise BadParameter(FORMAT, _("expected one of: %(allowed)s", allowed="html, csv"))
        self.csv = fmt == "csv"

    # -- the view as a URL ----------------------------------------------------------------------
    def args(self, **changes: Any) -> dict[str, Any]:
        """The query string of this view, with ``changes`` (None drops a parameter); a change
        of filter, search or sort goes back to page 1."""
        current: dict[str, Any] = {key: _text(value) for key, value in self.values.items()}
        if self.text:
            current[SEARCH] = self.text
        if self.sort and self.sort != self.default_sort:
            current[SORT] = self.sort
        if self.page_number > 1:
            current[PAGE] = self.page_number
        if self.per_page != DEFAULT_PER_PAGE:
            current[PER_PAGE] = self.per_page
        if set(changes) - {PAGE, FORMAT}:
            current.pop(PAGE, None)
        current.update(changes)
        return {key: value for key, value in current.items() if value is not None}

    def url(self, **changes: Any) -> str:
        return url_for(self.endpoint or request.endpoint or "", **self.view_args,
                       **self.args(**changes))

    @property
    def base_url(self) -> str:
        """The list without any parameter: where the filter form goes, and "Reset"."""
        return url_for(self.endpoint or request.endpoint or "", **self.view_args)

    def page_links(self, page: Page[Any]) -> list[int | None]:
        """The page numbers the pager offers: the first, the last and two either side of
        the current one; None stands for a gap."""
        wanted = sorted({1, page.pages, *range(max(1, page.page - 2),
                                                min(page.pages, page.page + 2) + 1)})
        links: list[int | None] = []
        for number in wanted:
            if links and links[-1] is not None and number - int(links[-1] or 0) > 1:
                links.append(None)
            links.append(number)
        return links

    def selected(self, key: str, value: Any) -> bool:
        return key in self.values and self.values[key] == value

    def sort_url(self, key: str) -> str:
        """The URL sorting by ``key``: ascending first, descending when already ascending."""
        wanted = f"-{key}" if self.sort == key else key
        return self.url(sort=wanted)

    def sorted_by(self, key: str) -> str | None:
        """``ascending``/``descending`` when the view is sorted by ``key`` (aria-sort)."""
        if self.sort == key:
            return "ascending"
        if self.sort == f"-{key}":
            return "descending"
        return None

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    @property
    def narrowed(self) -> bool:
        """Whether a filter or the search narrows the list (the page offers to reset)."""
        return bool(self.values or self.text)

    @property
    def page_sizes(self) -> tuple[int, ...]:
        return PAGE_SIZES

    # -- the rows -------------------------------------------------------------------------------
    def narrow(self, query: Select[Any]) -> Select[Any]:
        """``query`` filtered and searched as the view says (no order, no paging)."""
        for flt in self.filters:
            if flt.key in self.values and flt.where is not None:
                query = query.where(flt.where(self.values[flt.key]))
        if self.text and self.search is not None and self.search.where is not None:
            query = query.where(self.search.where(self.text.casefold()))
        return query

    def ordered(self, query: Select[Any]) -> Select[Any]:
        if self.sort is None:
            return query.order_by(*self.order)
        column = self.column(self.sort.removeprefix("-"))
        parts = column.sort if isinstance(column.sort, tuple) else (column.sort,)
        descending = self.sort.startswith("-")
        return query.order_by(*(p.desc() if descending else p.asc() for p in parts),
                              *self.order)

    def select_page(self, query: Select[Any]) -> Page[Any]:
        narrowed = self.narrow(query)
        total = db.session.scalar(select(func.count()).select_from(narrowed.subquery())) or 0
        number = self._clamp(total)
        items = list(db.session.scalars(self.ordered(narrowed)
                                        .offset((number - 1) * self.per_page)
                                        .limit(self.per_page)))
        return Page(items, number, self.per_page, total)

    def select_all(self, query: Select[Any]) -> list[Any]:
        return list(db.session.scalars(self.ordered(self.narrow(query))))

    def filter_rows(self, rows: Iterable[Any]) -> list[Any]:
        """The rows of a list filtered, searched and sorted as the view says."""
        found = list(rows)
        for flt in self.filters:
            if flt.key in self.values and flt.match is not None:
                value = self.values[flt.key]
                found = [row for row in found if flt.match(row, value)]
        if self.text and self.search is not None and self.search.match is not None:
            needle = self.text.casefold()
            found = [row for row in found if self.search.match(row, needle)]
        if self.sort is not None:
            key = self.column(self.sort.removeprefix("-")).sort
            found.sort(key=lambda row: _sortable(key(row)), reverse=self.sort.startswith("-"))
        return found

    def list_page(self, rows: Sequence[Any]) -> Page[Any]:
        number = self._clamp(len(rows))
        start = (number - 1) * self.per_page
        return Page(list(rows[start:start + self.per_page]), number, self.per_page, len(rows))

    def _clamp(self, total: int) -> int:
        self.page_number = min(self.page_number, max(1, math.ceil(total / self.per_page)))
        return self.page_number

    # -- answering ------------------------------------------------------------------------------
    def respond(self, source: Select[Any] | Sequence[Any], template: str,
                **context: Any) -> Any:
        """The page (``template`` with ``grid`` and ``page``) or, for ``format=csv``, every
        row of the view as CSV. ``source``: a ``select`` or a list (already in its order)."""
        if self.csv:
            return self.export(source)
        return render_template(template, grid=self, page=self.paged(source), **context)

    def paged(self, source: Select[Any] | Sequence[Any]) -> Page[Any]:
        """The page of the view (for a page that needs its rows before rendering)."""
        if isinstance(source, Select):
            return self.select_page(source)
        return self.list_page(self.filter_rows(source))

    def export(self, source: Select[Any] | Sequence[Any]) -> Response:
        """Every row of the view (all pages) as CSV."""
        rows = self.select_all(source) if isinstance(source, Select) \
            else self.filter_rows(source)
        return self.csv_response(rows)

    def csv_response(self, rows: Iterable[Any]) -> Response:
        out = io.StringIO()
        out.write("\ufeff")  # the BOM: Excel then reads the file as UTF-8
        writer = csv.writer(out)
        writer.writerow([str(c.label) for c in self.columns])
        for row in rows:
            writer.writerow([_cell(c.value(row)) for c in self.columns])
        response = make_response(out.getvalue())
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = f'attachment; filename="{self.filename}.csv"'
        return response


def _positive(args: Mapping[str, str], name: str, default: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise BadParameter(name, _("expected a whole number from 1"))
    return int(raw)


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _sortable(value: Any) -> tuple[int, Any]:
    """Empty values last; text ignoring case."""
    if value is None or value == "":
        return (1, "")
    return (0, value.casefold() if isinstance(value, str) else value)


def _cell(value: Any) -> Any:
    """A CSV cell: stored times (naive UTC) as ``YYYY-MM-DD HH:MM`` in the portal's zone;
    text a spreadsheet would run as a formula gets a leading apostrophe (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_local(value, portal_zone()).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


__all__ = ["CHOICE", "CODE", "DATE", "PERSON", "BadParameter", "Column", "Filter", "Grid",
           "Search", "contains", "matching_people", "person_choices", "person_sort"]

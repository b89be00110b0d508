"""What the handover and transfer pages say about a move batch: the run's status as people
read it (queued, running, finished, finished with failures, failed), items left alone counted
apart from the moved ones, percentages and rates by the locale, page titles by what the batch
is, and the numbers of the confirmations."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_interval
from flask import render_template_string
from flask_babel import format_decimal, get_locale, ngettext
from flask_babel import gettext as _

from portal_ext.blueprints.confirmation import Plan
from portal_ext.handover.failures import failed_count
from portal_ext.handover.report import planned_by_type, state_counts
from portal_ext.i18n import percent as locale_percent
from portal_ext.moves import progress
from portal_ext.moves.models import (
    APPLIED,
    APPLYING,
    CONFLICT,
    FAILED,
    FAILED_ITEM,
    MISSING,
    MOVED,
    PLANNED,
    RESTORED,
    RESTORED_ITEM,
    RESTORING,
    SKIPPED,
    MoveBatch,
)

__all__ = ["day_range", "held_count", "items_phrase", "kinds_phrase", "people_phrase",
           "planned_by_type", "progress_card", "run_status", "state_counts"]

LEFT_ALONE = (CONFLICT, SKIPPED, MISSING)
QUEUED, RUNNING, FINISHED, WITH_FAILURES = "queued", "running", "finished", "finished_with_failures"


def held_count(batch_id: int) -> int:
    """Items the batch moved that its receivers still hold (a give-back or an undo's work)."""
    return state_counts(batch_id).get(MOVED, 0)


def items_phrase(count: int) -> str:
    return str(ngettext("%(num)d item", "%(num)d items", count))


def kinds_phrase(count: int) -> str:
    return str(ngettext("%(num)d kind", "%(num)d kinds", count))


def people_phrase(count: int) -> str:
    return str(ngettext("%(num)d person", "%(num)d people", count))


def _duration(seconds: float) -> str:
    seconds = max(round(seconds), 1)
    if seconds < 90:
        return str(ngettext("%(num)d second", "%(num)d seconds", seconds))
    minutes = round(seconds / 60)
    if minutes < 90:
        return str(ngettext("%(num)d minute", "%(num)d minutes", minutes))
    return str(ngettext("%(num)d hour", "%(num)d hours", round(minutes / 60)))


def run_status(batch: MoveBatch, kind: str) -> dict[str, Any]:
    """The engine's progress plus what the pages show: ``status``, ``succeeded`` (moved, or
    given back), ``left_alone`` (conflicts, skipped, deleted: not counted as done),
    ``processed`` of ``total``, a whole ``percent`` (100 only when nothing is pending), and the
    texts ``heading``, ``percent_text``, ``figures``."""
    base = progress(batch)
    restoring = base["phase"] == "restore"
    counts = state_counts(batch.id, moved_only=restoring)
    succeeded = counts.get(RESTORED_ITEM if restoring else MOVED, 0)
    pending = counts.get(MOVED if restoring else PLANNED, 0)
    left_alone = sum(counts.get(s, 0) for s in LEFT_ALONE)
    failed = counts.get(FAILED_ITEM, 0)
    total = succeeded + pending + left_alone + failed
    processed = total - pending
    percent = (100 * processed) // total if total else 100
    rate, eta = base["rate_per_s"], base["eta_s"]
    if batch.state in (APPLYING, RESTORING):
        status = QUEUED if processed == 0 and rate is None else RUNNING
    elif batch.state in (APPLIED, RESTORED):
        status = WITH_FAILURES if failed else FINISHED
    else:
        status = batch.state  # preview, scheduled, failed, cancelled
    out = {**base, "status": status, "succeeded": succeeded, "left_alone": left_alone,
           "failed": failed, "pending": pending, "processed": processed, "total": total,
           "percent": percent, "percent_text": locale_percent(percent),
           "heading": _heading(kind, restoring, status, failed)}
    parts = [_("%(processed)s of %(total)s items", processed=processed, total=total)] \
        if status in (QUEUED, RUNNING) else []
    parts.append(_("%(count)s given back", count=succeeded) if restoring
                  else _("%(count)s moved", count=succeeded))
    if left_alone:
        parts.append(_("%(count)s left alone", count=left_alone))
    if failed:
        parts.append(_("%(count)s failed", count=failed))
    if status == RUNNING and rate:
        parts.append(_("%(rate)s items/s", rate=format_decimal(rate, "#,##0.#")))
        if eta is not None:
            parts.append(_("about %(time)s left", time=_duration(eta)))
    out["figures"] = " · ".join(str(p) for p in parts)
    return out


def _heading(kind: str, restoring: bool, status: str, failed: int) -> str:
    texts: dict[tuple[str, bool], dict[str, str]] = {
        ("handover", False): {QUEUED: _("Handover queued: it starts in a moment"),
                              RUNNING: _("Handing over"), FINISHED: _("Handed over"),
                              FAILED: _("The handover failed")},
        ("handover", True): {QUEUED: _("Giving back queued: it starts in a moment"),
                             RUNNING: _("Giving back"), FINISHED: _("Given back"),
                             FAILED: _("Giving back failed")},
        ("transfer", False): {QUEUED: _("Transfer queued: it starts in a moment"),
                              RUNNING: _("Transferring"), FINISHED: _("Transferred"),
                              FAILED: _("The transfer failed")},
        ("transfer", True): {QUEUED: _("Undo queued: it starts in a moment"),
                             RUNNING: _("Undoing the transfer"),
                             FINISHED: _("The transfer was undone"),
                             FAILED: _("Undoing the transfer failed")}}
    by_status = texts[(kind, restoring)]
    if status == WITH_FAILURES:
        return _("%(what)s, %(count)s failed", what=by_status[FINISHED], count=failed)
    return by_status.get(status, by_status[FINISHED])


_CARD = ('{% import "_move_batch.html" as mb %}'
         '{{ mb.progress_card(batch, status, progress_url, page_url) }}')


def progress_card(batch: MoveBatch, status: dict[str, Any], progress_url: str,
                  page_url: str) -> str:
    """The live progress block as the page renders it (the progress endpoint sends it)."""
    return render_template_string(_CARD, batch=batch, status=status,
                                  progress_url=progress_url, page_url=page_url)


def day_range(first: date, last: date) -> str:
    """``10–23 Dec`` by the locale (one day: ``10 Dec``)."""
    locale = get_locale() or "en"
    if first == last:
        return str(format_interval(first, last, "MMMd", locale=locale))
    skeleton = "MMMd" if first.year == last.year else "yMMMd"
    return str(format_interval(first, last, skeleton, locale=locale))


def retry_plan(batch: MoveBatch, *, action: str, cancel_url: str) -> Plan | None:
    """The confirmation of "Try the failed items again": how many, and that the rest stays
    (None: nothing failed, the service says so)."""
    count = failed_count(batch)
    if not count:
        return None
    restoring = batch.state in (RESTORING, RESTORED)
    return Plan(
        action=action,
        heading=_("Try %(items)s again?", items=items_phrase(count)),
        lines=[(_("They go back to their owner, where the portal allows it now.") if restoring
                else _("They move to their successors, where the portal allows it now.")),
               _("Items already done, and items left alone, stay as they are.")],
        button=_("Confirm: try %(items)s again", items=items_phrase(count)),
        cancel_url=cancel_url, binding={"state": batch.state, "failed": count},
        title=_("Confirm trying again"))


def discard_plan(batch: MoveBatch, *, action: str, cancel_url: str) -> Plan:
    """The confirmation of discarding a preview: its numbers are dropped, nothing moves."""
    count = sum(planned_by_type(batch.id).values())
    return Plan(
        action=action,
        heading=(_("Discard the handover of %(items)s?", items=items_phrase(count))
                 if batch.kind == "handover" else
                 _("Discard the transfer of %(items)s?", items=items_phrase(count))),
        lines=[_("Nothing moves on the portal; the preview and its numbers are dropped."),
               _("To move these items later, make a new preview.")],
        button=_("Confirm: discard"), cancel_url=cancel_url,
        binding={"state": batch.state, "planned": count}, danger=True,
        title=_("Confirm discarding"))

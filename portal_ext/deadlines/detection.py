"""The deadline guard on a cloud portal (``Portal.mode == "rest"``): prevention, detection and
revert, and the resync.

Over REST the guard cannot refuse a change before it happens, and the portal's task events
carry only the task's id (reference 1.5). So:

- **Prevention.** A guarded task (its policy is not ``free``, or has a limit) gets
  ``ALLOW_CHANGE_DEADLINE=N``; the task's own ``Y`` is remembered in its track and put back
  when the policy becomes free. The task also gets one comment with the link to "Request a
  deadline change". The portal then refuses most direct changes by the responsible itself;
  not those of a responsible whose role may edit their tasks (reference 1.2).
- **Detection.** The track's ``current_deadline`` is the snapshot of the task's deadline.
  ``ONTASKADD``/``ONTASKUPDATE`` only mark the task's track pending (:func:`mark_pending`, no
  portal call); :func:`sweep` then reads every pending task, 50 per ``batch`` request, and
  compares with the snapshot. While a burst of events is still arriving it takes only whole
  batches of 50 (:func:`claimable`, :class:`Settle`), so a burst costs few full requests. A
  change the policy lets through (or an approved request covers) moves the snapshot and is
  audited. One that breaks the policy is put back to the snapshot's deadline, audited
  ``reverted`` with the time from the event to the revert (``latency_ms``), commented in the
  responsible's language, and the responsible and their head are notified. The revert's own
  event finds the deadline equal to the snapshot and does nothing; two quick changes end with
  the snapshot's deadline (the guard always puts back the snapshot, never "the previous value").
  A task the guard cannot read is recorded on its track (``read_error``) and left: the next
  resync reads it again.
- **Resync** (:func:`resync`, the periodic job): every open task is read (by id, 50 per page,
  2,500 per request) and compared with the snapshot, so a deadline moved while the extension
  was down is caught; who moved it comes from ``tasks.task.history.list``.

Writes of one sweep go out in ``batch`` requests: the reverts and flags first, then, for the
reverts the portal took, the comments and notices.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from portal_ext.context import Context
from portal_ext.deadlines import rules, services
from portal_ext.deadlines.models import (
    ACCEPTED,
    APPLIED,
    APPROVED,
    EXEMPT,
    REVERTED,
    DeadlineRequest,
    DeadlineSync,
    DeadlineTrack,
)
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)

TASK_SELECT = ["ID", "TITLE", "CREATED_BY", "RESPONSIBLE_ID", "ACCOMPLICES", "DEADLINE",
               "ALLOW_CHANGE_DEADLINE", "CHANGED_BY", "STATUS"]
SWEEP_CHUNK = 500  # tasks read and settled per round (10 batch requests of reads)
BATCH = 50  # commands per ``batch`` request
CLOSED = "5"  # tasks.task status "completed"


def guards_over_rest(portal: Portal) -> bool:
    return portal.mode == "rest"


@dataclass(frozen=True)
class Seen:
    """A task as the guard read it from the portal."""

    facts: services.TaskFacts
    flag: str  # the task's ALLOW_CHANGE_DEADLINE, Y or N
    changed_by: int | None

    @classmethod
    def from_api(cls, task: Mapping[str, Any]) -> Seen:
        changed = str(task.get("changedBy") or "")
        return cls(facts=services.TaskFacts.from_api(task),
                   flag="Y" if task.get("allowChangeDeadline") == "Y" else "N",
                   changed_by=int(changed) if changed.isdigit() else None)


@dataclass
class Outcome:
    """What one sweep or resync did, by kind (``tracked``, ``unchanged``, ``accepted``,
    ``reverted``, ``unreadable``, ``revert_failed``, ``flag_set``, ``flag_restored``)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


def _tracks(portal: Portal, task_ids: Iterable[int]) -> dict[int, DeadlineTrack]:
    ids = list(task_ids)
    if not ids:
        return {}
    return {t.task_id: t for t in db.session.scalars(select(DeadlineTrack).where(
        DeadlineTrack.portal_id == portal.id, DeadlineTrack.task_id.in_(ids)))}


# -- events -----------------------------------------------------------------------------------
def mark_pending(portal: Portal, task_id: int, *, at: datetime) -> None:
    """A task event came: the task is to be read and compared (no portal call). Keeps the
    first event's time, for the event-to-revert time. Does not commit."""
    track = _tracks(portal, [task_id]).get(task_id)
    if track is None:
        db.session.add(DeadlineTrack(portal_id=portal.id, task_id=task_id, postponements=0,
                                     pending_since=at))
    elif track.pending_since is None:
        track.pending_since = at


def _claim(portal: Portal, limit: int) -> dict[int, datetime]:
    """Take up to ``limit`` pending tasks (task id -> when the event came) and commit, so a
    sweep running at the same time does not take them too."""
    rows = list(db.session.execute(select(DeadlineTrack.id, DeadlineTrack.task_id,
                                          DeadlineTrack.pending_since).where(
        DeadlineTrack.portal_id == portal.id, DeadlineTrack.pending_since.is_not(None))
        .order_by(DeadlineTrack.pending_since, DeadlineTrack.id).limit(limit)))
    taken: dict[int, datetime] = {}
    for row_id, task_id, since in rows:
        if since is None:
            continue
        claimed = db.session.execute(update(DeadlineTrack).where(
            DeadlineTrack.id == row_id, DeadlineTrack.pending_since == since)
            .values(pending_since=None).execution_options(synchronize_session=False))
        if getattr(claimed, "rowcount", 0):
            taken[task_id] = since
    db.session.commit()
    return taken


@dataclass(frozen=True)
class Settle:
    """How long a sweep lets a burst of events settle before it reads (seconds): until no
    new task was marked for ``window``, never past ``most`` after the oldest pending event.
    A window of 0 reads at once."""

    window: float = 0.0
    most: float = 0.0


def claimable(portal: Portal, settle_: Settle, *, now: datetime) -> int:
    """How many pending tasks a sweep should take now. At once: all of them (up to a round's
    ``SWEEP_CHUNK``). While a burst is still arriving (a task marked less than the window ago,
    the oldest not yet waiting ``most``): only whole batches of 50, 0 when fewer are pending,
    so reads, reverts, comments and notices go in full ``batch`` requests."""
    count, newest, oldest = db.session.execute(select(
        func.count(DeadlineTrack.id), func.max(DeadlineTrack.pending_since),
        func.min(DeadlineTrack.pending_since)).where(
        DeadlineTrack.portal_id == portal.id, DeadlineTrack.pending_since.is_not(None))).one()
    if not count:
        return 0
    if settle_.window <= 0 or newest is None or oldest is None \
            or (now - newest).total_seconds() >= settle_.window \
            or (now - oldest).total_seconds() >= max(settle_.most, settle_.window):
        return int(min(count, SWEEP_CHUNK))
    return int(min(count // BATCH * BATCH, SWEEP_CHUNK))


def sweep(ctx: Context, settle_: Settle = Settle()) -> dict[str, int]:
    """Read the pending tasks and settle them (see the module's docstring), in rounds, while
    :func:`claimable` says some are ready. Counts ``waiting`` when it stopped with tasks
    pending that a settling burst keeps back (the caller sweeps again shortly). Commits."""
    outcome = Outcome()
    while True:
        ready = claimable(ctx.portal, settle_, now=host_utcnow())
        taken = _claim(ctx.portal, ready) if ready else {}
        db.session.commit()
        if not taken:
            if has_pending(ctx.portal):
                outcome.add("waiting")
            return outcome.counts
        try:
            _sweep_round(ctx, taken, outcome)
        except PortalError:  # the portal refused a whole request: the tasks wait for the next
            db.session.rollback()
            _unclaim(ctx.portal, taken)
            raise


def _unclaim(portal: Portal, taken: Mapping[int, datetime]) -> None:
    for task_id, since in taken.items():
        db.session.execute(update(DeadlineTrack).where(
            DeadlineTrack.portal_id == portal.id, DeadlineTrack.task_id == task_id,
            DeadlineTrack.pending_since.is_(None)).values(pending_since=since)
            .execution_options(synchronize_session=False))
    db.session.commit()


def has_pending(portal: Portal) -> bool:
    return db.session.scalars(select(DeadlineTrack.id).where(
        DeadlineTrack.portal_id == portal.id, DeadlineTrack.pending_since.is_not(None))
        .limit(1)).first() is not None


def _sweep_round(ctx: Context, taken: Mapping[int, datetime], outcome: Outcome) -> None:
    answers = ctx.client.run_batch({task_id: ("tasks.task.get", {
        "taskId": task_id, "select": TASK_SELECT}) for task_id in taken})
    seen: list[Seen] = []
    for task_id in taken:
        result = answers.results.get(task_id)
        if isinstance(result, dict) and isinstance(result.get("task"), dict):
            seen.append(Seen.from_api(result["task"]))
        else:
            error = answers.errors.get(task_id)
            _unreadable(ctx, task_id, str(error) if error else
                        "the portal gave no task (deleted, or hidden from the extension)")
            outcome.add("unreadable")
    settle(ctx, seen, actors={s.facts.task_id: s.changed_by for s in seen},
           received=taken, outcome=outcome)


def _unreadable(ctx: Context, task_id: int, why: str) -> None:
    track = _tracks(ctx.portal, [task_id]).get(task_id)
    if track is None:
        track = DeadlineTrack(portal_id=ctx.portal.id, task_id=task_id, postponements=0)
        db.session.add(track)
    track.read_error, track.read_failed_at = why[:2000], ctx.now
    log.warning("deadline guard: task %s not read: %s", task_id, why)
    db.session.commit()


# -- deciding ---------------------------------------------------------------------------------
def _guarded(policy: rules.Policy) -> bool:
    return policy.mode != rules.FREE_MODE or policy.max_postponements is not None \
        or policy.max_delay_days is not None


def _covering_request(portal: Portal, task_id: int, new: datetime | None) -> DeadlineRequest | None:
    if new is None:
        return None
    return db.session.scalars(select(DeadlineRequest).where(
        DeadlineRequest.portal_id == portal.id, DeadlineRequest.task_id == task_id,
        DeadlineRequest.state.in_((APPROVED, APPLIED)),
        DeadlineRequest.new_deadline == new).order_by(DeadlineRequest.id.desc())).first()


@dataclass
class _Revert:
    seen: Seen
    old: datetime
    actor: int | None
    verdict: services.Verdict
    since: datetime | None


def settle(ctx: Context, seen: list[Seen], *, actors: Mapping[int, int | None],
           received: Mapping[int, datetime | None], outcome: Outcome) -> None:
    """Compare each read task with its snapshot, put back what breaks the policy, keep the
    flag and the link; commits."""
    tracks = _tracks(ctx.portal, (s.facts.task_id for s in seen))
    writes: dict[str, tuple[str, dict[str, Any]]] = {}
    reverts: dict[str, _Revert] = {}
    for item in seen:
        task = item.facts
        track = tracks.get(task.task_id)
        if track is None:
            track = DeadlineTrack(portal_id=ctx.portal.id, task_id=task.task_id, postponements=0)
            db.session.add(track)
            tracks[task.task_id] = track
        track.read_error = track.read_failed_at = None
        if track.updated_at is None:  # first sight: the snapshot
            if track.original_deadline is None:
                track.original_deadline = task.deadline
            track.current_deadline, track.updated_at = task.deadline, ctx.now
            outcome.add("tracked")
        elif task.deadline == track.current_deadline:
            outcome.add("unchanged")
        else:
            old = replace(task, deadline=track.current_deadline)
            actor = actors.get(task.task_id)
            verdict = services.judge(ctx.portal, old, actor_id=actor or 0, new=task.deadline)
            covered = _covering_request(ctx.portal, task.task_id, task.deadline)
            if covered is not None or verdict.requirement == rules.FREE \
                    or track.current_deadline is None:
                number = services._advance(ctx.portal, old, task.deadline,
                                           postponement=verdict.postponement, at=ctx.now)
                kind = APPROVED if covered is not None and covered.state == APPROVED else (
                    EXEMPT if verdict.postponement and verdict.exempt else ACCEPTED)
                services._record(ctx.portal, old, user_id=actor, new=task.deadline,
                                 outcome=kind, at=ctx.now, postponement_no=number,
                                 reason=covered.reason if covered else None,
                                 request_id=covered.id if covered else None)
                outcome.add("accepted")
            else:
                key = f"r{task.task_id}"
                writes[key] = ("tasks.task.update", {"taskId": task.task_id, "fields": {
                    "DEADLINE": services.iso(track.current_deadline)}})
                reverts[key] = _Revert(item, track.current_deadline, actor, verdict,
                                       received.get(task.task_id))
        _prevention(ctx, item, track, writes, outcome)
    db.session.commit()  # the snapshot first: the events of these writes must find it
    if not writes:
        return
    answers = ctx.client.run_batch(writes)
    done = host_utcnow()
    notes: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, revert in reverts.items():
        task = revert.seen.facts
        if key in answers.errors:
            track = tracks[task.task_id]
            track.read_error = f"revert refused: {answers.errors[key]}"[:2000]
            track.read_failed_at = ctx.now
            outcome.add("revert_failed")
            continue
        latency = int((done - revert.since).total_seconds() * 1000) if revert.since else None
        change = services._record(ctx.portal, replace(task, deadline=revert.old),
                                  user_id=revert.actor, new=task.deadline, outcome=REVERTED,
                                  at=ctx.now)
        change.latency_ms = latency
        tracks[task.task_id].reverted_at = ctx.now
        outcome.add("reverted")
        _revert_notes(ctx, revert, notes)
    for key in writes:
        if key.startswith("f") and key in answers.errors:
            log.warning("deadline guard: flag of task %s not set: %s", key[1:],
                        answers.errors[key])
    db.session.commit()
    if notes:
        for key, error in ctx.client.run_batch(notes).errors.items():
            log.warning("deadline guard: %s not delivered: %s", key, error)


def _prevention(ctx: Context, item: Seen, track: DeadlineTrack,
                writes: dict[str, tuple[str, dict[str, Any]]], outcome: Outcome) -> None:
    """Keep a guarded task's flag at N (remembering its own Y) and give it the request link
    once; put the task's own flag back once its policy is free."""
    task = item.facts
    policy = services.judge(ctx.portal, task, actor_id=0, new=task.deadline).policy
    if _guarded(policy):
        if item.flag == "Y":
            track.own_flag = "Y"
            writes[f"f{task.task_id}"] = ("tasks.task.update", {
                "taskId": task.task_id, "fields": {"ALLOW_CHANGE_DEADLINE": "N"}})
            outcome.add("flag_set")
        if not track.link_posted:
            track.link_posted = True
            language = services.language_of(services._user(ctx.portal, task.responsible_id))
            with force_locale(language):
                text = _("The deadline of this task is guarded by the deadline policy. To move "
                         "it, use 'Request a deadline change': %(link)s",
                         link=services.absolute_link(services.request_link(task.task_id)))
            writes[f"l{task.task_id}"] = ("task.commentitem.add", {
                "TASKID": task.task_id, "FIELDS": {"POST_MESSAGE": text}})
    elif track.own_flag is not None:
        if item.flag != track.own_flag:
            writes[f"f{task.task_id}"] = ("tasks.task.update", {
                "taskId": task.task_id, "fields": {"ALLOW_CHANGE_DEADLINE": track.own_flag}})
            outcome.add("flag_restored")
        track.own_flag = None


def _revert_notes(ctx: Context, revert: _Revert,
                  notes: dict[str, tuple[str, dict[str, Any]]]) -> None:
    task = revert.seen.facts
    link = services.absolute_link(services.request_link(task.task_id))
    who = services._name(ctx.portal, revert.actor) if revert.actor else "?"

    def why(language: str) -> str:
        with force_locale(language):
            if revert.verdict.requirement == rules.LOCKED:
                need = _("the deadline of this task is locked by the deadline policy")
            elif revert.verdict.requirement == rules.APPROVAL:
                need = _("moving it needs an approval")
            else:
                need = _("moving it needs a reason")
            return _("The deadline of the task \"%(title)s\" was put back from %(new)s to "
                     "%(old)s: %(who)s moved it, but %(need)s. Use 'Request a deadline "
                     "change': %(link)s", title=task.title,
                     new=services._local(task.deadline, ctx.tz),
                     old=services._local(revert.old, ctx.tz), who=who, need=need, link=link)

    responsible = services._user(ctx.portal, task.responsible_id)
    notes[f"c{task.task_id}"] = ("task.commentitem.add", {
        "TASKID": task.task_id,
        "FIELDS": {"POST_MESSAGE": why(services.language_of(responsible))}})
    people = [task.responsible_id, *revert.verdict.heads[:1]]
    for person in dict.fromkeys(p for p in people if p):
        notes[f"n{task.task_id}_{person}"] = ("im.notify.system.add", {
            "USER_ID": person,
            "MESSAGE": why(services.language_of(services._user(ctx.portal, person))),
            "TAG": f"portal_ext:deadline_revert:{task.task_id}:{person}"})


# -- the resync -------------------------------------------------------------------------------
def _history_actors(ctx: Context, task_ids: list[int]) -> dict[int, int | None]:
    """Who last moved each task's deadline, from ``tasks.task.history.list``."""
    if not task_ids:
        return {}
    answers = ctx.client.run_batch({task_id: ("tasks.task.history.list", {
        "taskId": task_id, "filter": {"FIELD": "DEADLINE"}, "order": {"ID": "DESC"}})
        for task_id in task_ids})
    found: dict[int, int | None] = {}
    for task_id in task_ids:
        rows = (answers.results.get(task_id) or {}).get("list") if isinstance(
            answers.results.get(task_id), dict) else None
        user = str((rows[0].get("user") or {}).get("id") or "") if rows else ""
        found[task_id] = int(user) if user.isdigit() else None
    return found


def resync(ctx: Context) -> DeadlineSync:
    """Read every open task and settle it against the snapshot; commits as it goes."""
    state = db.session.get(DeadlineSync, ctx.portal.id)
    if state is None:
        state = DeadlineSync(portal_id=ctx.portal.id, tasks=0, reverted=0)
        db.session.add(state)
    state.started_at, state.finished_at, state.error = ctx.now, None, None
    state.tasks = state.reverted = 0
    db.session.commit()
    outcome = Outcome()
    chunk: list[Seen] = []
    try:
        for row in ctx.client.iter_by_id("tasks.task.list", {
                "filter": {"!STATUS": CLOSED}, "select": TASK_SELECT},
                rows_key="tasks", row_id="id"):
            chunk.append(Seen.from_api(row))
            if len(chunk) >= SWEEP_CHUNK:
                _resync_chunk(ctx, chunk, outcome)
                chunk = []
        _resync_chunk(ctx, chunk, outcome)
    except PortalError as exc:
        state = db.session.get(DeadlineSync, ctx.portal.id) or state
        state.error = str(exc)[:2000]
        db.session.commit()
        raise
    state = db.session.get(DeadlineSync, ctx.portal.id) or state
    state.tasks = sum(outcome.counts.get(k, 0) for k in ("tracked", "unchanged", "accepted",
                                                         "reverted", "revert_failed"))
    state.reverted, state.finished_at = outcome.counts.get("reverted", 0), ctx.now
    db.session.commit()
    return state


def _resync_chunk(ctx: Context, chunk: list[Seen], outcome: Outcome) -> None:
    if not chunk:
        return
    tracks = _tracks(ctx.portal, (s.facts.task_id for s in chunk))
    moved = [s.facts.task_id for s in chunk
             if (t := tracks.get(s.facts.task_id)) is not None and t.updated_at is not None
             and t.current_deadline != s.facts.deadline]
    settle(ctx, chunk, actors=_history_actors(ctx, moved), received={}, outcome=outcome)


def sync_state(portal: Portal) -> DeadlineSync | None:
    return db.session.get(DeadlineSync, portal.id)

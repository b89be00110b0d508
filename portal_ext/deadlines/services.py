"""The deadline guard's reads and writes: policies, the on-site veto's decision, deadline
requests and the audit of changes (rules.py decides; this module reads, writes and commits).

The portal is reached only through the context's client (portal_ext.portal). When the guard
itself moves a deadline (an applied or approved request), it first records the new deadline
in the task's track and commits, so the portal's ``ONTASKUPDATE`` about it is recognised as its
own and not audited twice; its own update is never vetoed (``applying``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal_ext.context import Context
from portal_ext.deadlines import rules
from portal_ext.deadlines.errors import DeadlineError
from portal_ext.deadlines.models import (
    ACCEPTED,
    APPLIED,
    APPROVED,
    DECLINED,
    DEFAULT,
    DEPARTMENT,
    ESCALATED,
    EXEMPT,
    FAILED,
    PENDING,
    ROBOTS,
    VETOED,
    DeadlineChange,
    DeadlinePolicy,
    DeadlineRequest,
    DeadlineTrack,
)
from portal_ext.directory.models import Department, PortalUser
from portal_ext.directory.rules import headed_subtree
from portal_ext.errors import CONFLICT, FORBIDDEN, NOT_FOUND, FieldChecks
from portal_ext.extensions import db
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)
LANGUAGES = ("en", "ru")
POLICY_FIELDS = ("mode", "max_postponements", "max_delay_days", "exempt_heads")
MIN_REASON = 10  # characters: "at least a few words"
OPEN_STATES = (PENDING, ESCALATED)  # still waiting for an approver's decision
_APPLYING: ContextVar[bool] = ContextVar("deadline_guard_applying", default=False)


# -- time -------------------------------------------------------------------------------------
def parse_portal_time(value: Any) -> datetime | None:
    """A portal ISO time (``2026-12-31T18:00:00+03:00``) as naive UTC; None if absent."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed
    return parsed.astimezone(UTC).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """A stored naive UTC time as ISO 8601 with ``Z``."""
    return None if value is None else value.replace(tzinfo=UTC).isoformat().replace(
        "+00:00", "Z")


# -- policies ---------------------------------------------------------------------------------
def _policy_of(row: DeadlinePolicy | None) -> rules.Policy:
    if row is None:
        return rules.Policy()
    return rules.Policy(mode=row.mode, max_postponements=row.max_postponements,
                        max_delay_days=row.max_delay_days, exempt_heads=bool(row.exempt_heads))


def policy_json(row: DeadlinePolicy | None, *, scope: str = DEFAULT,
                department_id: int | None = None) -> dict[str, Any]:
    policy = _policy_of(row)
    return {"scope": row.scope if row else scope,
            "department_id": (row.department_id or None) if row else department_id,
            "mode": policy.mode, "max_postponements": policy.max_postponements,
            "max_delay_days": policy.max_delay_days, "exempt_heads": policy.exempt_heads,
            "updated_by": row.updated_by_id if row else None,
            "updated_at": iso(row.updated_at) if row else None}


def _rows(portal: Portal) -> list[DeadlinePolicy]:
    return list(db.session.scalars(select(DeadlinePolicy).where(
        DeadlinePolicy.portal_id == portal.id).order_by(DeadlinePolicy.department_id)))


def _row(portal: Portal, scope: str, department_id: int = 0) -> DeadlinePolicy | None:
    return db.session.scalars(select(DeadlinePolicy).where(
        DeadlinePolicy.portal_id == portal.id, DeadlinePolicy.scope == scope,
        DeadlinePolicy.department_id == department_id)).first()


def _departments(portal: Portal) -> list[Department]:
    return list(db.session.scalars(select(Department).where(Department.portal_id == portal.id)))


def policies_json(portal: Portal, viewer: PortalUser) -> dict[str, Any]:
    """The default, the robots' policy and the department overrides ``viewer`` may read (an
    administrator all; a head those of the departments they oversee)."""
    rows = _rows(portal)
    by_scope = {(r.scope, r.department_id): r for r in rows}
    names = {d.portal_department_id: d.name for d in _departments(portal)}
    visible = None if viewer.is_admin else headed_subtree(viewer, _departments(portal))
    departments = [{**policy_json(r), "department_name": names.get(r.department_id, "")}
                   for r in rows if r.scope == DEPARTMENT
                   and (visible is None or r.department_id in visible)]
    return {"default": policy_json(by_scope.get((DEFAULT, 0))),
            "robots": policy_json(by_scope.get((ROBOTS, 0)), scope=ROBOTS),
            "departments": departments}


def _limit(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
        raise DeadlineError(name, _("'%(field)s' must be empty or a whole number from 0 to "
                                    "10000.", field=name))
    return value


def validated_policy(body: Mapping[str, Any]) -> rules.Policy:
    """The policy a body describes (``mode`` required), else a refusal naming the field (a
    Refusals group naming every bad field, when several are)."""
    checks = FieldChecks()
    mode = body.get("mode")
    if mode not in rules.MODES:
        checks.add(DeadlineError("mode", _("'mode' must be one of: %(modes)s.",
                                           modes=", ".join(rules.MODES))))
    exempt = body.get("exempt_heads", True)
    if not isinstance(exempt, bool):
        checks.add(DeadlineError("exempt_heads", _("'exempt_heads' must be true or false.")))
    limits: dict[str, int | None] = {}
    for name in ("max_postponements", "max_delay_days"):
        with checks:
            limits[name] = _limit(body, name)
    checks.done()
    return rules.Policy(mode=str(mode), max_postponements=limits["max_postponements"],
                        max_delay_days=limits["max_delay_days"], exempt_heads=exempt)


def _require_admin(actor: PortalUser | None) -> None:
    if actor is not None and not actor.is_admin:
        raise DeadlineError(None, _("Only administrators change deadline policies."), FORBIDDEN)


def set_policy(ctx: Context, scope: str, body: Mapping[str, Any], *,
               department_id: int = 0) -> DeadlinePolicy:
    """Save the default, a department's or the robots' policy; commits."""
    _require_admin(ctx.actor)
    if scope == DEPARTMENT and department_id not in {
            d.portal_department_id for d in _departments(ctx.portal)}:
        raise DeadlineError("department_id", _("There is no department %(id)s.",
                                               id=department_id), NOT_FOUND)
    policy = validated_policy(body)
    row = _row(ctx.portal, scope, department_id)
    if row is None:
        row = DeadlinePolicy(portal_id=ctx.portal.id, scope=scope, department_id=department_id)
        db.session.add(row)
    row.mode, row.max_postponements = policy.mode, policy.max_postponements
    row.max_delay_days, row.exempt_heads = policy.max_delay_days, policy.exempt_heads
    row.updated_by_id = ctx.actor.portal_user_id if ctx.actor else None
    row.updated_at = ctx.now
    _resync_after_commit(ctx.portal)
    forget_setup()  # before the commit: the jobs it queues decide by the new policy
    db.session.commit()
    forget_setup()
    return row


def _resync_after_commit(portal: Portal) -> None:
    """On a cloud portal a policy change re-reads the tasks: guarded ones get the flag N, freed
    ones their own flag back (deadlines.detection)."""
    if portal.mode == "rest":
        from portal_ext import jobs
        from portal_ext.deadlines import tasks

        jobs.enqueue_after_commit(tasks.resync_portal, portal.id)


def delete_department_policy(ctx: Context, department_id: int) -> None:
    """Drop a department's override (its tasks follow the default again); commits."""
    _require_admin(ctx.actor)
    row = _row(ctx.portal, DEPARTMENT, department_id)
    if row is None:
        raise DeadlineError("department_id", _("Department %(id)s has no policy of its own.",
                                               id=department_id), NOT_FOUND)
    db.session.delete(row)
    _resync_after_commit(ctx.portal)
    forget_setup()  # before the commit: the jobs it queues decide by the new policy
    db.session.commit()
    forget_setup()


# -- what binds a task ------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskFacts:
    """What the guard needs of a task (from the portal's ``tasks.task.get`` shape)."""

    task_id: int
    title: str
    creator_id: int
    responsible_id: int
    accomplice_ids: tuple[int, ...]
    deadline: datetime | None

    @classmethod
    def from_api(cls, task: Mapping[str, Any]) -> TaskFacts:
        return cls(task_id=int(task["id"]), title=str(task.get("title") or ""),
                   creator_id=int(task.get("createdBy") or 0),
                   responsible_id=int(task.get("responsibleId") or 0),
                   accomplice_ids=tuple(int(v) for v in task.get("accomplices") or ()),
                   deadline=parse_portal_time(task.get("deadline")))


@dataclass(frozen=True)
class Verdict:
    requirement: str  # rules.FREE / REASON / APPROVAL / LOCKED
    policy: rules.Policy
    postponement: bool
    exempt: bool
    bound: bool
    postponements_before: int
    original: datetime | None
    heads: tuple[int, ...]


def _user(portal: Portal, user_id: int | None) -> PortalUser | None:
    if not user_id:
        return None
    return db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal.id, PortalUser.portal_user_id == user_id)).first()


def _track(portal: Portal, task_id: int) -> DeadlineTrack | None:
    return db.session.scalars(select(DeadlineTrack).where(
        DeadlineTrack.portal_id == portal.id, DeadlineTrack.task_id == task_id)).first()


@dataclass(frozen=True)
class _Setup:
    """What every decision reads besides the task's track: the department tree, the
    policies, and each person's departments and administrator flag."""

    parents: dict[int, int | None]
    heads: dict[int, int | None]
    default: rules.Policy
    overrides: dict[int, rules.Policy]
    robots: rules.Policy
    people: dict[int, tuple[tuple[int, ...], bool]]


SETUP_SECONDS = 1.0  # how long a process reuses the set-up it read (another may change it)
_SETUPS: dict[tuple[str, int], tuple[float, _Setup]] = {}
_SETUPS_LOCK = threading.Lock()


def _setup(portal: Portal) -> _Setup:
    """The decision's set-up, read at most every :data:`SETUP_SECONDS` per process (a policy
    changed here is seen at once: :func:`forget_setup`), so the on-site veto answers with one
    indexed read (the task's track)."""
    key = (str(db.engine.url), portal.id)
    with _SETUPS_LOCK:
        hit = _SETUPS.get(key)
    if hit is not None and time.monotonic() - hit[0] < SETUP_SECONDS:
        return hit[1]
    departments = _departments(portal)
    rows = _rows(portal)
    setup = _Setup(
        parents={d.portal_department_id: d.parent_portal_id for d in departments},
        heads={d.portal_department_id: d.head_portal_user_id for d in departments},
        default=_policy_of(next((r for r in rows if r.scope == DEFAULT), None)),
        overrides={r.department_id: _policy_of(r) for r in rows if r.scope == DEPARTMENT},
        robots=_policy_of(next((r for r in rows if r.scope == ROBOTS), None)),
        people={u.portal_user_id: (tuple(u.department_ids or ()), bool(u.is_admin))
                for u in db.session.scalars(select(PortalUser).where(
                    PortalUser.portal_id == portal.id))})
    with _SETUPS_LOCK:
        _SETUPS[key] = (time.monotonic(), setup)
    return setup


def forget_setup() -> None:
    """Policies changed in this process: the next decision reads them again."""
    with _SETUPS_LOCK:
        _SETUPS.clear()


def judge(portal: Portal, task: TaskFacts, *, actor_id: int, new: datetime | None) -> Verdict:
    """What moving ``task``'s deadline to ``new`` by ``actor_id`` needs (the set-up from
    memory, the task's track by its unique index)."""
    setup = _setup(portal)
    member_of = list(setup.people.get(task.responsible_id, ((), False))[0])
    policy = rules.effective_policy(setup.default, setup.overrides, member_of, setup.parents)
    track = _track(portal, task.task_id)
    if track is not None and track.robot_policy is not None:  # a stage robot's task
        policy = rules.Policy(mode=track.robot_policy, exempt_heads=setup.robots.exempt_heads) \
            if track.robot_policy else setup.robots
    above = rules.heads_above(member_of, setup.parents, setup.heads)
    exempt = rules.is_exempt(actor_id, is_admin=setup.people.get(actor_id, ((), False))[1],
                             creator_id=task.creator_id, responsible_id=task.responsible_id,
                             head_ids=above, policy=policy)
    bound = rules.is_bound(actor_id, responsible_id=task.responsible_id,
                           accomplice_ids=task.accomplice_ids)
    before = track.postponements if track else 0
    original = track.original_deadline if track and track.original_deadline else task.deadline
    need = rules.requirement(policy, old=task.deadline, new=new, postponements_before=before,
                             original=original, exempt=exempt or not bound)
    return Verdict(requirement=need, policy=policy,
                   postponement=rules.is_postponement(task.deadline, new), exempt=exempt,
                   bound=bound, postponements_before=before, original=original,
                   heads=tuple(above))


def language_of(user: PortalUser | None) -> str:
    chosen = (user.language if user is not None else None) or \
        str(current_app.config.get("NOTIFICATION_LANGUAGE") or "en")
    return chosen if chosen in LANGUAGES else "en"


def absolute_link(path: str) -> str:
    """``path`` on the extension, as a link written into the portal (``EXTENSION_URL``, else
    the portal's address, where the two are served together)."""
    base = str(current_app.config.get("EXTENSION_URL") or current_app.config["PORTAL_URL"])
    return f"{base.rstrip('/')}{path}"


def notice_link(path: str) -> str:
    """A link in a portal notification: BB code, which the portal shows as a link."""
    url = absolute_link(path)
    return f"[URL={url}]{url}[/URL]"


def request_link(task_id: int) -> str:
    """The extension's page to request a change of ``task_id``'s deadline."""
    return f"/deadlines/requests/new?task={task_id}"


def veto_message(requirement: str, task_id: int, language: str) -> str:
    link = request_link(task_id)
    with force_locale(language):
        if requirement == rules.LOCKED:
            return _("The deadline of this task is locked by the deadline policy.")
        if requirement == rules.APPROVAL:
            return _("Moving the deadline of this task needs approval: use 'Request a deadline "
                     "change' (%(link)s).", link=link)
        return _("Moving the deadline of this task needs a reason: use 'Request a deadline "
                 "change' (%(link)s).", link=link)


def _record(portal: Portal, task: TaskFacts, *, user_id: int | None, new: datetime | None,
            outcome: str, at: datetime, reason: str | None = None,
            approver_id: int | None = None, request_id: int | None = None,
            postponement_no: int | None = None) -> DeadlineChange:
    change = DeadlineChange(portal_id=portal.id, task_id=task.task_id, user_id=user_id,
                            responsible_id=task.responsible_id, old_deadline=task.deadline,
                            new_deadline=new, reason=reason, approver_id=approver_id,
                            outcome=outcome, postponement_no=postponement_no,
                            request_id=request_id, at=at)
    db.session.add(change)
    return change


def _advance(portal: Portal, task: TaskFacts, new: datetime | None, *, postponement: bool,
             at: datetime) -> int | None:
    """Record ``new`` as the task's deadline in its track; the postponement's number."""
    track = _track(portal, task.task_id)
    if track is None:
        track = DeadlineTrack(portal_id=portal.id, task_id=task.task_id,
                              original_deadline=task.deadline, postponements=0)
        db.session.add(track)
    if track.original_deadline is None and task.deadline is None and new is not None:
        track.original_deadline = new  # the first deadline the task got
    track.current_deadline = new
    track.updated_at = at
    if postponement:
        track.postponements = (track.postponements or 0) + 1
        return track.postponements
    return None


@contextmanager
def applying() -> Iterator[None]:
    """The guard's own deadline changes: its veto lets them through."""
    token = _APPLYING.set(True)
    try:
        yield
    finally:
        _APPLYING.reset(token)


def guard_update(portal: Portal, *, task_id: int, actor_id: int | None,
                 before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
                 now: datetime) -> str | None:
    """The on-site veto's decision for an in-process before-update of a task: the message to
    refuse the change with, or None to let it through. A vetoed attempt is audited."""
    if _APPLYING.get() or not before or not after or not actor_id:
        return None
    old, new = parse_portal_time(before.get("deadline")), parse_portal_time(after.get("deadline"))
    if old == new:
        return None
    task = TaskFacts.from_api(before)
    verdict = judge(portal, task, actor_id=actor_id, new=new)
    if verdict.requirement == rules.FREE:
        return None
    from portal_ext import jobs
    from portal_ext.deadlines import tasks

    # The audit of the attempt is written by a job: the portal's change does not wait on a
    # commit (with the inline runner it is written here and now).
    jobs.enqueue(tasks.record_veto, portal.id, {
        "task_id": task.task_id, "title": task.title, "creator_id": task.creator_id,
        "responsible_id": task.responsible_id, "accomplice_ids": list(task.accomplice_ids),
        "deadline": iso(task.deadline)}, actor_id, iso(new), iso(now))
    return veto_message(verdict.requirement, task.task_id, language_of(_user(portal, actor_id)))


def record_veto(portal: Portal, task: Mapping[str, Any], *, actor_id: int, new: Any,
                at: Any) -> None:
    """Audit a vetoed attempt (the job the veto queues); commits."""
    facts = TaskFacts(task_id=int(task["task_id"]), title=str(task.get("title") or ""),
                      creator_id=int(task.get("creator_id") or 0),
                      responsible_id=int(task.get("responsible_id") or 0),
                      accomplice_ids=tuple(int(v) for v in task.get("accomplice_ids") or ()),
                      deadline=parse_portal_time(task.get("deadline")))
    _record(portal, facts, user_id=actor_id, new=parse_portal_time(new), outcome=VETOED,
            at=parse_portal_time(at) or datetime.now(UTC).replace(tzinfo=None))
    db.session.commit()


def record_direct_change(portal: Portal, *, task_id: int, actor_id: int | None,
                         before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
                         now: datetime) -> DeadlineChange | None:
    """Audit a deadline change made on the portal (it passed the veto); the guard's own
    changes (already in the track) are not recorded twice. Does not commit."""
    if not before or not after:
        return None
    old, new = parse_portal_time(before.get("deadline")), parse_portal_time(after.get("deadline"))
    if old == new:
        return None
    track = _track(portal, task_id)
    if track is not None and track.current_deadline == new and track.updated_at is not None:
        return None  # the guard's own change (or already recorded)
    task = TaskFacts.from_api(before)
    verdict = judge(portal, task, actor_id=actor_id or 0, new=new)
    number = _advance(portal, task, new, postponement=verdict.postponement, at=now)
    outcome = EXEMPT if verdict.postponement and verdict.exempt else ACCEPTED
    return _record(portal, task, user_id=actor_id, new=new, outcome=outcome, at=now,
                   postponement_no=number)


def guard_robot_task(portal: Portal, *, task_id: int, deadline: datetime | None, mode: str,
                     now: datetime) -> None:
    """A stage robot made ``task_id``: its deadline is bound by the robots' policy (``mode``
    empty) or by ``mode`` alone, from the deadline it was given. Does not commit."""
    track = _track(portal, task_id)
    if track is None:
        track = DeadlineTrack(portal_id=portal.id, task_id=task_id, postponements=0)
        db.session.add(track)
    track.original_deadline = track.original_deadline or deadline
    track.current_deadline, track.robot_policy, track.updated_at = deadline, mode or "", now


def robot_policy_mode(portal: Portal, mode: str) -> str:
    """The mode a robot's task gets: ``mode``, or the robots' policy's for an empty one."""
    return mode or _policy_of(_row(portal, ROBOTS)).mode


# -- requests ---------------------------------------------------------------------------------
def _read_task(ctx: Context, task_id: int) -> TaskFacts:
    try:
        answer = ctx.client.call("tasks.task.get", {"taskId": task_id, "select": [
            "ID", "TITLE", "CREATED_BY", "RESPONSIBLE_ID", "ACCOMPLICES", "DEADLINE"]})
    except PortalError as exc:
        raise DeadlineError("task_id", _("The portal did not give task %(id)s: %(why)s",
                                         id=task_id, why=str(exc)), NOT_FOUND) from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("task"), dict):
        raise DeadlineError("task_id", _("There is no task %(id)s.", id=task_id), NOT_FOUND)
    return TaskFacts.from_api(answer["task"])


def parse_deadline(value: Any, tz: tzinfo) -> datetime:
    """An ISO 8601 date-time from a request (without an offset: the portal's time zone)."""
    if not isinstance(value, str) or not value.strip():
        raise DeadlineError("new_deadline", _("'new_deadline' must be a date and time "
                                              "(ISO 8601)."))
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise DeadlineError("new_deadline", _("'new_deadline' must be a date and time "
                                              "(ISO 8601).")) from None


def _reason(value: Any) -> str:
    text = " ".join(str(value).split()) if isinstance(value, str) else ""
    if len(text) < MIN_REASON:
        raise DeadlineError("reason", _("Give a reason of at least %(n)s characters.",
                                        n=MIN_REASON))
    return text[:2000]


def _local(value: datetime | None, tz: tzinfo) -> str:
    if value is None:
        return "—"
    return value.replace(tzinfo=UTC).astimezone(tz).strftime("%d.%m.%Y %H:%M")


def _apply(ctx: Context, request: DeadlineRequest, task: TaskFacts, *, state: str,
           comment: str, approver_id: int | None) -> None:
    """Move the deadline on the portal, comment, audit; commits. A portal refusal leaves the
    request ``failed`` with the portal's message."""
    verdict = judge(ctx.portal, task, actor_id=request.requester_id, new=request.new_deadline)
    track = _track(ctx.portal, task.task_id)
    undo = (track.current_deadline, track.postponements, track.updated_at) if track else None
    number = _advance(ctx.portal, task, request.new_deadline, postponement=verdict.postponement,
                      at=ctx.now)
    db.session.commit()  # the portal's event about this change must find it recorded
    try:
        with applying():
            ctx.client.call("tasks.task.update", {"taskId": task.task_id, "fields": {
                "DEADLINE": request.new_deadline.replace(tzinfo=UTC).isoformat()}})
    except PortalError as exc:
        track = _track(ctx.portal, task.task_id)
        if track is not None:
            if undo is None:
                db.session.delete(track)
            else:
                track.current_deadline, track.postponements, track.updated_at = undo
        request.state, request.error = FAILED, str(exc)
        db.session.commit()
        return
    request.state = state
    outcome = APPROVED if state == APPROVED else (
        EXEMPT if verdict.exempt and verdict.postponement else ACCEPTED)
    _record(ctx.portal, task, user_id=request.requester_id, new=request.new_deadline,
            outcome=outcome, at=ctx.now, reason=request.reason, approver_id=approver_id,
            request_id=request.id, postponement_no=number)
    db.session.commit()
    _comment(ctx, task.task_id, comment)


def _comment(ctx: Context, task_id: int, text: str) -> None:
    try:
        ctx.client.call("task.commentitem.add", {"TASKID": task_id,
                                                 "FIELDS": {"POST_MESSAGE": text}})
    except PortalError as exc:
        log.warning("task %s: deadline comment not posted: %s", task_id, exc)


def _notify(ctx: Context, user_ids: list[int], text: str, tag: str) -> None:
    for user_id in user_ids:
        try:
            ctx.client.call("im.notify.system.add", {"USER_ID": user_id, "MESSAGE": text,
                                                     "TAG": f"{tag}:{user_id}"})
        except PortalError as exc:
            log.warning("deadline request: user %s not notified: %s", user_id, exc)


def _name(portal: Portal, user_id: int | None) -> str:
    user = _user(portal, user_id)
    return user.full_name if user else f"#{user_id}"


def _moved_text(ctx: Context, request: DeadlineRequest, language: str) -> str:
    with force_locale(language):
        return _("Deadline moved from %(old)s to %(new)s at the request of %(who)s. "
                 "Reason: %(reason)s", old=_local(request.old_deadline, ctx.tz),
                 new=_local(request.new_deadline, ctx.tz),
                 who=_name(ctx.portal, request.requester_id), reason=request.reason)


def create_request(ctx: Context, *, task_id: int, new_deadline: Any, reason: Any
                   ) -> DeadlineRequest:
    """A person asks to move a task's deadline: applied at once where the policy asks only a
    reason (or nothing), pending for approval where it asks one; refused (nothing stored)
    when the deadline is locked. Commits."""
    actor = ctx.actor
    if actor is None:
        raise DeadlineError(None, _("Sign in to request a deadline change."), FORBIDDEN)
    new = parse_deadline(new_deadline, ctx.tz)
    text = _reason(reason)
    task = _read_task(ctx, task_id)
    if new <= ctx.now:
        raise DeadlineError("new_deadline", _("The new deadline must be in the future."))
    if new == task.deadline:
        raise DeadlineError("new_deadline", _("The task already has this deadline."))
    verdict = judge(ctx.portal, task, actor_id=actor.portal_user_id, new=new)
    involved = verdict.bound or verdict.exempt or actor.portal_user_id == task.creator_id
    if not involved:
        raise DeadlineError("task_id", _("Only the task's responsible, accomplices, creator "
                                         "or their heads may request a deadline change."),
                            FORBIDDEN)
    if verdict.requirement == rules.LOCKED:
        raise DeadlineError("new_deadline", _("The deadline of this task is locked by the "
                                              "deadline policy: only its creator, the heads "
                                              "and administrators may move it."))
    request = DeadlineRequest(
        portal_id=ctx.portal.id, task_id=task.task_id, task_title=task.title[:255],
        requester_id=actor.portal_user_id, responsible_id=task.responsible_id,
        old_deadline=task.deadline, new_deadline=new, reason=text, state=PENDING,
        approver_ids=[], created_at=ctx.now)
    db.session.add(request)
    if verdict.requirement == rules.APPROVAL:
        request.approver_ids = rules.approvers(
            creator_id=task.creator_id, responsible_id=task.responsible_id,
            requester_id=actor.portal_user_id, head_ids=verdict.heads)
        db.session.commit()
        for approver in request.approver_ids:
            with force_locale(language_of(_user(ctx.portal, approver))):
                text_ = _("%(who)s asks to move the deadline of the task \"%(title)s\" from "
                          "%(old)s to %(new)s. Reason: %(reason)s. Approve or decline: "
                          "%(link)s", who=_name(ctx.portal, request.requester_id),
                          title=task.title, old=_local(task.deadline, ctx.tz),
                          new=_local(new, ctx.tz), reason=text,
                          link=notice_link(f"/deadlines/requests/{request.id}"))
            _notify(ctx, [approver], text_, f"portal_ext:deadline:{request.id}")
        return request
    db.session.flush()
    _apply(ctx, request, task, state=APPLIED, approver_id=None,
           comment=_moved_text(ctx, request, language_of(None)))
    return request


def get_request(portal: Portal, request_id: int) -> DeadlineRequest:
    request = db.session.get(DeadlineRequest, request_id)
    if request is None or request.portal_id != portal.id:
        raise DeadlineError(None, _("There is no deadline request %(id)s.", id=request_id),
                            NOT_FOUND)
    return request


def _decider(ctx: Context, request: DeadlineRequest) -> PortalUser:
    actor = ctx.actor
    if actor is None:
        raise DeadlineError(None, _("Sign in to decide a request."), FORBIDDEN)
    if actor.portal_user_id == request.requester_id:
        raise DeadlineError(None, _("Nobody approves or declines their own request."),
                            FORBIDDEN)
    if not actor.is_admin and actor.portal_user_id not in (request.approver_ids or []):
        raise DeadlineError(None, _("Only the request's approvers decide it."), FORBIDDEN)
    if request.state not in OPEN_STATES:
        raise DeadlineError(None, _("The request is already %(state)s.", state=request.state),
                            CONFLICT)
    return actor


def is_open(request: DeadlineRequest) -> bool:
    """Waiting for a decision: pending, or escalated to the next head."""
    return request.state in OPEN_STATES


def escalate_overdue(ctx: Context) -> list[DeadlineRequest]:
    """Pass every request nobody answered within ``DEADLINE_ESCALATION_HOURS`` (since it was
    made, or last escalated) to the next head up the responsible's departments: it becomes
    ``escalated``, the head joins its approvers and is notified. A request with no head left
    above stays as it is. Commits."""
    hours = float(current_app.config.get("DEADLINE_ESCALATION_HOURS") or 0)
    if hours <= 0:
        return []
    cutoff = ctx.now - timedelta(hours=hours)
    due = [r for r in db.session.scalars(select(DeadlineRequest).where(
        DeadlineRequest.portal_id == ctx.portal.id, DeadlineRequest.state.in_(OPEN_STATES))
        .order_by(DeadlineRequest.id)) if (r.escalated_at or r.created_at) <= cutoff]
    if not due:
        return []
    departments = _departments(ctx.portal)
    parents = {d.portal_department_id: d.parent_portal_id for d in departments}
    heads_of = {d.portal_department_id: d.head_portal_user_id for d in departments}
    escalated: list[DeadlineRequest] = []
    for request in due:
        responsible = _user(ctx.portal, request.responsible_id)
        heads = rules.heads_above(list(responsible.department_ids or []) if responsible else [],
                                  parents, heads_of)
        head = rules.next_head(heads, approver_ids=list(request.approver_ids or []),
                               requester_id=request.requester_id,
                               responsible_id=request.responsible_id)
        request.escalated_at = ctx.now
        if head is None:
            continue
        request.approver_ids = [*(request.approver_ids or []), head]
        request.state = ESCALATED
        escalated.append(request)
    db.session.commit()
    for request in escalated:
        head = request.approver_ids[-1]
        with force_locale(language_of(_user(ctx.portal, head))):
            text = _("Nobody answered %(who)s's request to move the deadline of the task "
                     "\"%(title)s\" from %(old)s to %(new)s; it is passed to you. Reason: "
                     "%(reason)s. Approve or decline: %(link)s",
                     who=_name(ctx.portal, request.requester_id), title=request.task_title,
                     old=_local(request.old_deadline, ctx.tz),
                     new=_local(request.new_deadline, ctx.tz), reason=request.reason,
                     link=notice_link(f"/deadlines/requests/{request.id}"))
        _notify(ctx, [head], text, f"portal_ext:deadline:{request.id}:escalated")
    return escalated


def approve_request(ctx: Context, request: DeadlineRequest) -> DeadlineRequest:
    """An approver approves: the deadline moves, the task gets a comment. Commits."""
    actor = _decider(ctx, request)
    task = _read_task(ctx, request.task_id)
    request.decided_by_id, request.decided_at = actor.portal_user_id, ctx.now
    with force_locale(language_of(None)):
        comment = _("Deadline moved from %(old)s to %(new)s at the request of %(who)s, "
                    "approved by %(approver)s. Reason: %(reason)s",
                    old=_local(task.deadline, ctx.tz), new=_local(request.new_deadline, ctx.tz),
                    who=_name(ctx.portal, request.requester_id), approver=actor.full_name,
                    reason=request.reason)
    _apply(ctx, request, task, state=APPROVED, approver_id=actor.portal_user_id,
           comment=comment)
    return request


def decline_request(ctx: Context, request: DeadlineRequest, reason: Any) -> DeadlineRequest:
    """An approver declines with a reason: the deadline stays, the task gets a comment."""
    actor = _decider(ctx, request)
    text = _reason(reason)
    task = _read_task(ctx, request.task_id)
    request.state, request.decision_reason = DECLINED, text
    request.decided_by_id, request.decided_at = actor.portal_user_id, ctx.now
    _record(ctx.portal, task, user_id=request.requester_id, new=request.new_deadline,
            outcome=DECLINED, at=ctx.now, reason=request.reason,
            approver_id=actor.portal_user_id, request_id=request.id)
    db.session.commit()
    with force_locale(language_of(None)):
        comment = _("%(approver)s declined moving the deadline to %(new)s requested by "
                    "%(who)s. Reason: %(reason)s", approver=actor.full_name,
                    new=_local(request.new_deadline, ctx.tz),
                    who=_name(ctx.portal, request.requester_id), reason=text)
    _comment(ctx, request.task_id, comment)
    return request


def request_json(request: DeadlineRequest) -> dict[str, Any]:
    return {"id": request.id, "task_id": request.task_id, "task_title": request.task_title,
            "requester_id": request.requester_id, "responsible_id": request.responsible_id,
            "old_deadline": iso(request.old_deadline), "new_deadline": iso(request.new_deadline),
            "reason": request.reason, "state": request.state,
            "approver_ids": list(request.approver_ids or []),
            "decided_by": request.decided_by_id, "decision_reason": request.decision_reason,
            "error": request.error, "created_at": iso(request.created_at),
            "decided_at": iso(request.decided_at), "escalated_at": iso(request.escalated_at)}


def _overseen_people(portal: Portal, viewer: PortalUser) -> set[int] | None:
    """Portal user ids ``viewer`` oversees (None: everyone, an administrator)."""
    if viewer.is_admin:
        return None
    departments = headed_subtree(viewer, _departments(portal))
    people = {viewer.portal_user_id}
    if departments:
        for user in db.session.scalars(select(PortalUser).where(
                PortalUser.portal_id == portal.id)):
            if set(user.department_ids or []) & departments:
                people.add(user.portal_user_id)
    return people


def list_requests(portal: Portal, viewer: PortalUser, *, state: str | None = None,
                  user: int | None = None, task: int | None = None) -> list[DeadlineRequest]:
    """Requests ``viewer`` may see, newest first: an administrator all; anyone else those of
    the people they oversee (themselves included) and those they are to decide."""
    stmt = select(DeadlineRequest).where(DeadlineRequest.portal_id == portal.id)
    if state:
        stmt = stmt.where(DeadlineRequest.state == state)
    if user:
        stmt = stmt.where(DeadlineRequest.requester_id == user)
    if task:
        stmt = stmt.where(DeadlineRequest.task_id == task)
    rows = list(db.session.scalars(stmt.order_by(DeadlineRequest.id.desc()).limit(1000)))
    people = _overseen_people(portal, viewer)
    if people is None:
        return rows
    return [r for r in rows if r.requester_id in people or r.responsible_id in people
            or viewer.portal_user_id in (r.approver_ids or [])]


def may_see_request(portal: Portal, viewer: PortalUser, request: DeadlineRequest) -> bool:
    people = _overseen_people(portal, viewer)
    return people is None or request.requester_id in people or \
        request.responsible_id in people or viewer.portal_user_id in (request.approver_ids or [])


# -- the audit --------------------------------------------------------------------------------
def change_json(change: DeadlineChange) -> dict[str, Any]:
    return {"id": change.id, "task_id": change.task_id, "user_id": change.user_id,
            "responsible_id": change.responsible_id,
            "old_deadline": iso(change.old_deadline), "new_deadline": iso(change.new_deadline),
            "reason": change.reason, "approver_id": change.approver_id,
            "outcome": change.outcome, "postponement_no": change.postponement_no,
            "request_id": change.request_id, "at": iso(change.at),
            "latency_ms": change.latency_ms}


def list_changes(portal: Portal, viewer: PortalUser, *, user: int | None = None,
                 department: int | None = None, since: datetime | None = None,
                 until: datetime | None = None) -> list[DeadlineChange]:
    """Recorded deadline changes ``viewer`` may see, newest first (administrators all, heads
    their departments' people, anyone else their own)."""
    stmt = select(DeadlineChange).where(DeadlineChange.portal_id == portal.id)
    if user:
        stmt = stmt.where(DeadlineChange.user_id == user)
    if since:
        stmt = stmt.where(DeadlineChange.at >= since)
    if until:
        stmt = stmt.where(DeadlineChange.at < until)
    rows = list(db.session.scalars(stmt.order_by(DeadlineChange.id.desc()).limit(5000)))
    if department:
        members = {u.portal_user_id for u in db.session.scalars(select(PortalUser).where(
            PortalUser.portal_id == portal.id)) if department in (u.department_ids or [])}
        rows = [r for r in rows if r.responsible_id in members or r.user_id in members]
    people = _overseen_people(portal, viewer)
    if people is None:
        return rows
    return [r for r in rows if r.user_id in people or r.responsible_id in people]


# Open tasks for "overdue now": new (legacy), pending and in progress, as the portal's own
# overdue counter; awaiting control, completed and deferred ones are not the responsible's.
OPEN_STATUSES: tuple[str, ...] = ("1", "2", "3")


def overdue_now(ctx: Context, people: set[int] | None) -> dict[int, int] | None:
    """Open tasks whose deadline is before now (portal time), per responsible: one filtered
    ``tasks.task.list`` through the port (ID-window paging, 2,500 tasks per request), only
    ``people``'s tasks unless None. None when the portal cannot be read."""
    if people is not None and not people:
        return {}
    task_filter: dict[str, Any] = {
        "<DEADLINE": ctx.now.replace(tzinfo=UTC).astimezone(ctx.tz).isoformat(),
        "STATUS": list(OPEN_STATUSES)}
    if people is not None:
        task_filter["RESPONSIBLE_ID"] = sorted(people)
    found: dict[int, int] = {}
    try:
        for row in ctx.client.iter_by_id("tasks.task.list", {
                "filter": task_filter, "select": ["ID", "RESPONSIBLE_ID"]},
                rows_key="tasks", row_id="id"):
            responsible = str(row.get("responsibleId") or "")
            if responsible.isdigit():
                found[int(responsible)] = found.get(int(responsible), 0) + 1
    except PortalError as exc:
        log.warning("deadline report: the portal's overdue tasks could not be read: %s", exc)
        return None
    return found


def postponement_report(ctx: Context, viewer: PortalUser, *, department: int | None = None,
                        since: datetime | None = None, until: datetime | None = None
                        ) -> list[Any]:
    """The per-manager report (portal_ext.deadlines.report) over what ``viewer`` may see,
    with each manager's tasks overdue now."""
    from portal_ext.deadlines import report

    portal = ctx.portal
    rows = list_changes(portal, viewer, department=department, since=since, until=until)
    users = list(db.session.scalars(select(PortalUser).where(PortalUser.portal_id == portal.id)))
    names = {u.portal_user_id: u.full_name for u in users}
    people = _overseen_people(portal, viewer)
    if department:
        members = {u.portal_user_id for u in users if department in (u.department_ids or [])}
        people = members if people is None else people & members
    return [line for line in report.lines(rows, names, overdue_now(ctx, people))
            if people is None or line.user_id in people]

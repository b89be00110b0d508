"""A day of portal life: every few seconds something plausible happens, through the portal's
own REST methods (``sim.call``), so events fire and notices arrive exactly as they would when
people work: a lead comes in from the site, a manager finishes a call, a call is missed, a
client writes an e-mail, a head sets a task, a task moves on or its deadline is pushed, someone
comments on a task, a manager moves a lead on to its next status.

``step(sim, rng)`` does one such thing and says what it did; ``run_life`` repeats it (and runs
the portal's own time-driven checks, :func:`simulator.ticks.tick`) until told to stop. The
scenario reads the portal's tables only to choose whom and what to act on.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from random import Random
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from simulator.core.errors import SimError
from simulator.crm import tables as crm_tables
from simulator.scenarios import rows as R
from simulator.scenarios.errors import PortalEmpty, UnknownAction
from simulator.tasks import tables as tasks_tables
from simulator.users import tables as users_tables

if TYPE_CHECKING:
    from simulator.portal import Simulator

log = logging.getLogger(__name__)

C, T = crm_tables.crm_items, tasks_tables.tasks
OPEN_TASK = (2, 3, 4)
STATUS_WORDS = {3: "started", 4: "handed in for control", 5: "completed"}
WEIGHTS = {"new_lead": 20, "call_completed": 18, "call_missed": 12, "email_incoming": 20,
           "task_created": 12, "task_changed": 12, "task_comment": 6, "lead_moved": 14}
# A lead's next status as its manager works it (lead_moved), with the odds of each.
LEAD_NEXT = {"NEW": (("IN_PROCESS", 0.85), ("JUNK", 0.15)),
             "IN_PROCESS": (("PROCESSED", 0.8), ("JUNK", 0.2)),
             "PROCESSED": (("CONVERTED", 0.7), ("JUNK", 0.3))}


class Scene:
    """What one step works with: the portal and a random source. Reads use short
    connections of their own, never held across a ``sim.call``."""

    def __init__(self, sim: Simulator, rng: Random) -> None:
        self.sim, self.rng = sim, rng
        self.words = R.read_fixture("clients")
        self.active = [row.id for row in self.read(
            select(users_tables.users.c.id).where(users_tables.users.c.active.is_(True)).order_by(users_tables.users.c.id))]
        if not self.active:
            raise PortalEmpty()

    def read(self, stmt: Any) -> list[Any]:
        with self.sim.engine.connect() as conn:
            return list(conn.execute(stmt).all())

    def first(self, stmt: Any) -> Any:
        rows = self.read(stmt.limit(1))
        return rows[0] if rows else None

    def pick(self, stmt: Any) -> Any:
        """A random row of ``stmt`` (ordered by id, so a seeded rng picks the same row)."""
        count = self.read(select(func.count()).select_from(stmt.subquery()))[0][0]
        if not count:
            return None
        return self.first(stmt.order_by(stmt.selected_columns.id)
                          .offset(self.rng.randrange(count)))

    def company(self) -> Any:
        """A company whose manager still works here."""
        return self.pick(select(C).where(C.c.entity_type_id == R.COMPANY,
                                         C.c.assigned_by_id.in_(self.active)))

    def someone(self) -> int:
        staff = [u for u in self.active if u != 1] or self.active
        return self.rng.choice(staff)

    def name(self, user_id: int) -> str:
        row = self.first(select(users_tables.users.c.name, users_tables.users.c.last_name)
                         .where(users_tables.users.c.id == user_id))
        return f"{row.name} {row.last_name}" if row else f"user {user_id}"

    def boss_of(self, user_id: int) -> int:
        """The head of the user's first department, or the head above when that is them."""
        users = users_tables.users
        row = self.first(select(users.c.departments).where(users.c.id == user_id))
        dept_id = (row.departments or [None])[0] if row else None
        while dept_id is not None:
            dept = self.first(select(users_tables.departments)
                              .where(users_tables.departments.c.id == dept_id))
            if dept is None:
                break
            if dept.head and dept.head != user_id and dept.head in self.active:
                return int(dept.head)
            dept_id = dept.parent
        return 1 if user_id != 1 else self.someone()

    def phone_of(self, company: Any) -> tuple[str, int, int]:
        """(number, entity type, entity id): a contact of the company when it has one."""
        contact = self.pick(select(C).where(C.c.entity_type_id == R.CONTACT,
                                            C.c.company_id == company.id))
        item = contact if contact is not None and self.rng.random() < 0.6 else company
        phones = item.fields.get("PHONE") or [{"VALUE": R.phone_number(self.rng)}]
        return str(phones[0]["VALUE"]), item.entity_type_id, item.id

    def call(self, method: str, params: dict[str, Any], user_id: int) -> Any:
        return self.sim.call(method, params, user_id=user_id)["result"]

    def iso(self, moment: Any) -> str:
        return self.sim.to_portal_iso(moment)


# -- what can happen ---------------------------------------------------------------------------
def new_lead(scene: Scene) -> str:
    rng, words = scene.rng, scene.words
    company = scene.company()
    manager = company.assigned_by_id if company is not None else scene.someone()
    lines = R.read_fixture("portal")["business_lines"]
    product = rng.choice(rng.choice(lines)["products"])
    first, last, middle, _gender = R.Vocabulary().person(rng)
    title = rng.choice(words["leads"]["titles"]).format(product=product)
    lead_id = scene.call("crm.lead.add", {"fields": {
        "TITLE": title, "NAME": first, "LAST_NAME": last, "SECOND_NAME": middle,
        "STATUS_ID": "NEW", "SOURCE_ID": rng.choice(words["leads"]["sources"]),
        "ASSIGNED_BY_ID": manager, "OPPORTUNITY": rng.randrange(50, 3000) * 1000,
        "CURRENCY_ID": "RUB", "COMMENTS": rng.choice(words["leads"]["comments"]),
        "PHONE": [{"VALUE": R.phone_number(rng), "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": f"{R.translit(last)}@example.ru", "VALUE_TYPE": "WORK"}],
    }}, user_id=1)
    return f"new lead #{lead_id} «{title}» for {scene.name(manager)}"


def _call(scene: Scene, *, connected: bool) -> str:
    rng, now = scene.rng, scene.sim.clock.now()
    company = scene.company()
    if company is None:
        return new_lead(scene)
    number, entity_type, entity_id = scene.phone_of(company)
    seconds = rng.randint(40, 600) if connected else rng.randint(10, 40)
    if connected:
        direction = R.OUTGOING if rng.random() < 0.7 else R.INCOMING
        outcome, done = R.CONNECTED, True
        subject = rng.choice(scene.words["calls"]["outgoing" if direction == R.OUTGOING
                                                  else "incoming"])
    else:
        outcome = rng.choice((R.MISSED, R.MISSED, R.BUSY, R.UNAVAILABLE, R.DECLINED))
        direction = R.INCOMING if outcome == R.MISSED else R.OUTGOING
        # A missed call stays open: the manager is expected to call back.
        done = outcome != R.MISSED
        subject = "Пропущенный звонок" if outcome == R.MISSED else "Не дозвонились"
    activity_id = scene.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": R.COMPANY, "OWNER_ID": company.id, "TYPE_ID": R.CALL,
        "DIRECTION": direction, "SUBJECT": subject, "COMPLETED": "Y" if done else "N",
        "RESPONSIBLE_ID": company.assigned_by_id,
        "START_TIME": scene.iso(now - timedelta(seconds=seconds)), "END_TIME": scene.iso(now),
        "COMMUNICATIONS": [{"VALUE": number, "ENTITY_TYPE_ID": entity_type,
                            "ENTITY_ID": entity_id, "TYPE": "PHONE"}],
        "SETTINGS": {"CALL_FAILED_CODE": outcome},
    }}, user_id=company.assigned_by_id)
    what = "completed call" if connected else f"call not through ({outcome})"
    return f"{what} #{activity_id} with {company.title} by {scene.name(company.assigned_by_id)}"


def call_completed(scene: Scene) -> str:
    return _call(scene, connected=True)


def call_missed(scene: Scene) -> str:
    return _call(scene, connected=False)


def email_incoming(scene: Scene) -> str:
    """A client writes: the e-mail lands on the company, or on one of its open deals."""
    rng, words = scene.rng, scene.words
    company = scene.company()
    if company is None:
        return new_lead(scene)
    owner = company
    if rng.random() < 0.4:
        deal = scene.pick(select(C).where(C.c.entity_type_id == R.DEAL,
                                          C.c.company_id == company.id, C.c.closed.is_(False),
                                          C.c.assigned_by_id.in_(scene.active)))
        owner = deal if deal is not None else company
    emails = company.fields.get("EMAIL") or [{"VALUE": "client@example.ru"}]
    subject = rng.choice(words["emails"]["incoming"])
    activity_id = scene.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": owner.entity_type_id, "OWNER_ID": owner.id, "TYPE_ID": R.EMAIL,
        "DIRECTION": R.INCOMING, "SUBJECT": subject, "COMPLETED": "N",
        "DESCRIPTION": rng.choice(words["emails"]["bodies"]),
        "RESPONSIBLE_ID": owner.assigned_by_id, "START_TIME": scene.iso(scene.sim.clock.now()),
        "COMMUNICATIONS": [{"VALUE": emails[0]["VALUE"], "ENTITY_TYPE_ID": R.COMPANY,
                            "ENTITY_ID": company.id, "TYPE": "EMAIL"}],
    }}, user_id=owner.assigned_by_id)
    return f"incoming e-mail #{activity_id} «{subject}» on {owner.title}"


def task_created(scene: Scene) -> str:
    rng = scene.rng
    company = scene.company()
    responsible = company.assigned_by_id if company is not None else scene.someone()
    creator = scene.boss_of(responsible)
    templates = [t for t in scene.words["tasks"]["sales"] if t["binds"] == ["company"]]
    if company is not None:
        title = rng.choice(templates)["title"].format(company=company.title)
        binding = [f"CO_{company.id}"]
    else:
        title, binding = rng.choice(scene.words["tasks"]["marketing"]), []
    day = R.local_day(scene.sim.clock.now(), scene.sim.tz, rng.randint(1, 5))
    result = scene.call("tasks.task.add", {"fields": {
        "TITLE": title, "RESPONSIBLE_ID": responsible, "CREATED_BY": creator,
        "DEADLINE": scene.iso(R.at_local(day, scene.sim.tz, 18)), "UF_CRM_TASK": binding,
        "ALLOW_CHANGE_DEADLINE": "Y" if rng.random() < 0.5 else "N",
    }}, user_id=creator)
    task_id = result["task"]["id"]
    return f"task #{task_id} «{title}» set by {scene.name(creator)} for {scene.name(responsible)}"


def _open_task(scene: Scene, *, shared: bool = False) -> Any:
    stmt = select(T).where(T.c.status.in_(OPEN_TASK), T.c.responsible_id.in_(scene.active),
                           T.c.created_by.in_(scene.active))
    if shared:
        stmt = stmt.where(T.c.created_by != T.c.responsible_id)
    return scene.pick(stmt)


def task_changed(scene: Scene) -> str:
    """The assignee moves the task on, or its creator pushes the deadline."""
    rng = scene.rng
    task = _open_task(scene)
    if task is None:
        return task_created(scene)
    if task.deadline is not None and rng.random() < 0.5:
        deadline = max(task.deadline, scene.sim.clock.now()) + timedelta(days=rng.randint(1, 3))
        scene.call("tasks.task.update", {"taskId": task.id, "fields": {
            "DEADLINE": scene.iso(deadline)}}, user_id=task.created_by)
        return f"deadline of task #{task.id} moved to {scene.iso(deadline)} by " \
               f"{scene.name(task.created_by)}"
    status = {2: 3, 3: 4 if task.task_control else 5, 4: 5}[task.status]
    actor = task.created_by if task.status == 4 else task.responsible_id
    scene.call("tasks.task.update", {"taskId": task.id, "fields": {"STATUS": status}},
               user_id=actor)
    return f"task #{task.id} {STATUS_WORDS[status]} by {scene.name(actor)}"


def task_comment(scene: Scene) -> str:
    task = _open_task(scene, shared=True)
    if task is None:
        return task_created(scene)
    author = task.created_by if scene.rng.random() < 0.65 else task.responsible_id
    text = scene.rng.choice(scene.words["tasks"]["comments"])
    comment_id = scene.call("task.commentitem.add", {
        "TASKID": task.id, "FIELDS": {"POST_MESSAGE": text}}, user_id=author)
    return f"comment #{comment_id} on task #{task.id} by {scene.name(author)}: {text}"


def lead_moved(scene: Scene) -> str:
    """A manager moves an open lead on: qualified (IN_PROCESS), catalogue sent (PROCESSED),
    visit agreed (CONVERTED), or junk. The stage robots of the demo react to these."""
    lead = scene.pick(select(C).where(C.c.entity_type_id == R.LEAD,
                                      C.c.stage_id.in_(list(LEAD_NEXT)),
                                      C.c.assigned_by_id.in_(scene.active)))
    if lead is None:
        return new_lead(scene)
    choices = LEAD_NEXT[lead.stage_id]
    status = scene.rng.choices([c[0] for c in choices], [c[1] for c in choices])[0]
    scene.call("crm.lead.update", {"id": lead.id, "fields": {"STATUS_ID": status}},
               user_id=lead.assigned_by_id)
    return f"lead #{lead.id} «{lead.title}» moved {lead.stage_id} -> {status}"


ACTIONS: dict[str, Callable[[Scene], str]] = {
    "new_lead": new_lead, "call_completed": call_completed, "call_missed": call_missed,
    "email_incoming": email_incoming, "task_created": task_created,
    "task_changed": task_changed, "task_comment": task_comment, "lead_moved": lead_moved,
}


def step(sim: Simulator, rng: Random, *, action: str | None = None) -> str:
    """Do one plausible thing (``action`` picks which; see :data:`ACTIONS`); returns what."""
    name = action or rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
    if name not in ACTIONS:
        raise UnknownAction(name=name)
    return ACTIONS[name](Scene(sim, rng))


def _ticker() -> Callable[[Simulator], Any] | None:
    if importlib.util.find_spec("simulator.ticks") is None:
        return None
    tick: Callable[[Simulator], Any] = importlib.import_module("simulator.ticks").tick
    return tick


def run_life(sim: Simulator, *, interval: float = 3.0,
             stop_event: threading.Event | None = None, rng: Random | None = None) -> int:
    """Play portal life every ``interval`` seconds until ``stop_event`` is set (forever when
    none is given); returns the number of rounds. A refused action (a veto, a dismissed
    user) is logged and life goes on."""
    rng = rng or Random()
    stop = stop_event or threading.Event()
    tick = _ticker()
    rounds = 0
    while not stop.is_set():
        try:
            log.info("portal life: %s", step(sim, rng))
        except SimError as error:
            log.info("portal life: refused: %s", error.description)
        if tick is not None:
            tick(sim)
        rounds += 1
        stop.wait(interval)
    return rounds

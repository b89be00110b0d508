"""A day of portal life: each step goes through the portal's own methods, so the people
concerned find notices in their inboxes and subscribers see the events."""

from __future__ import annotations

import threading
from random import Random
from typing import Any

import pytest
from sqlalchemy import func, select

from simulator import SimError, SimEvent, Simulator
from simulator.crm import tables as crm_tables
from simulator.im import tables as im_tables
from simulator.scenarios.life import ACTIONS, run_life, step
from simulator.tasks import tables as tasks_tables

N, C = im_tables.notifications, crm_tables.crm_items
A, T = crm_tables.activities, tasks_tables.tasks


def newest(sim: Simulator, table: Any, *where: Any) -> Any:
    with sim.engine.connect() as conn:
        return conn.execute(select(table).where(*where).order_by(table.c.id.desc())
                            .limit(1)).first()


def inbox(sim: Simulator, user_id: int, kind: str) -> list[Any]:
    with sim.engine.connect() as conn:
        return list(conn.execute(select(N).where(N.c.user_id == user_id, N.c.kind == kind)))


def test_a_new_lead_reaches_its_manager(demo_sim: Simulator) -> None:
    seen: list[SimEvent] = []
    demo_sim.bus.subscribe_after(seen.append)
    said = step(demo_sim, Random(1), action="new_lead")
    lead = newest(demo_sim, C, C.c.entity_type_id == 1)
    assert f"#{lead.id}" in said and lead.stage_id == "NEW"
    notices = inbox(demo_sim, lead.assigned_by_id, "crm_assigned")
    assert [n.entity_id for n in notices] == [lead.id]
    assert any(e.name == "ONCRMLEADADD" and e.entity_id == lead.id for e in seen)


def test_an_incoming_email_tells_the_owner(demo_sim: Simulator) -> None:
    step(demo_sim, Random(2), action="email_incoming")
    email = newest(demo_sim, A, A.c.type_id == 4)
    assert email.direction == 1 and not email.completed
    owner = newest(demo_sim, C, C.c.id == email.owner_id)
    assert owner.entity_type_id in (2, 4)
    notices = inbox(demo_sim, owner.assigned_by_id, "email_incoming")
    assert [n.entity_id for n in notices] == [owner.id]


@pytest.mark.parametrize(("action", "connected"), [("call_completed", True),
                                                  ("call_missed", False)])
def test_calls_are_logged_on_a_company(demo_sim: Simulator, action: str,
                                       connected: bool) -> None:
    before = newest(demo_sim, A).id
    step(demo_sim, Random(3), action=action)
    call = newest(demo_sim, A)
    assert call.id > before and call.type_id == 2 and call.owner_type_id == 4
    outcome = call.fields["SETTINGS"]["CALL_FAILED_CODE"]
    assert (outcome == "200") is connected
    company = newest(demo_sim, C, C.c.id == call.owner_id)
    assert call.responsible_id == company.assigned_by_id


def test_a_new_task_reaches_its_assignee(demo_sim: Simulator) -> None:
    said = step(demo_sim, Random(4), action="task_created")
    task = newest(demo_sim, T)
    assert f"#{task.id}" in said and task.created_by != task.responsible_id
    assert task.uf_crm_task and task.uf_crm_task[0].startswith("CO_")
    assert [n.entity_id for n in inbox(demo_sim, task.responsible_id, "task_assigned")] == [
        task.id]


def test_a_comment_reaches_the_other_side_of_the_task(demo_sim: Simulator) -> None:
    step(demo_sim, Random(5), action="task_comment")
    with demo_sim.engine.connect() as conn:
        comment = conn.execute(select(tasks_tables.task_comments)
                               .order_by(tasks_tables.task_comments.c.id.desc()).limit(1)).one()
        task = conn.execute(select(T).where(T.c.id == comment.task_id)).one()
    other = task.responsible_id if comment.author_id == task.created_by else task.created_by
    assert [n.entity_id for n in inbox(demo_sim, other, "task_comment")] == [task.id]
    assert inbox(demo_sim, comment.author_id, "task_comment") == []


def test_a_task_moves_on_and_its_history_says_so(demo_sim: Simulator) -> None:
    with demo_sim.engine.connect() as conn:
        before = conn.execute(select(func.max(tasks_tables.task_history.c.id))).scalar_one()
    step(demo_sim, Random(6), action="task_changed")
    change = newest(demo_sim, tasks_tables.task_history)
    assert change.id > before and change.field in ("STATUS", "DEADLINE")


def test_unknown_action_is_refused(demo_sim: Simulator) -> None:
    with pytest.raises(SimError):
        step(demo_sim, Random(7), action="nap")
    assert set(ACTIONS) >= {"new_lead", "email_incoming", "task_comment"}


def test_life_runs_until_told_to_stop(demo_sim: Simulator) -> None:
    stop = threading.Event()
    notices: list[SimEvent] = []

    def count(event: SimEvent) -> None:
        if event.name == "ONIMNOTIFYADD":
            notices.append(event)
            if len(notices) >= 3:
                stop.set()

    demo_sim.bus.subscribe_after(count)
    rounds: list[int] = []
    runner = threading.Thread(target=lambda: rounds.append(
        run_life(demo_sim, interval=0.01, stop_event=stop, rng=Random(8))))
    runner.start()
    runner.join(timeout=60)
    stop.set()
    runner.join(timeout=5)
    assert rounds and rounds[0] >= 1
    assert len(notices) >= 3
    with demo_sim.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(N)).scalar_one() >= 3

"""Tasks, their history and comments, deadline rights, vetoes, notices and the deadline tick."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from simulator import SimError, SimEvent, Simulator, Veto
from simulator.im import tables as im_tables
from simulator.tasks import tables as tasks_tables
from simulator.ticks import tick
from tests.simulator.staff import ACCOUNTANT, ADMIN, HEAD, SELLER, SELLER2, add_staff

NOW = datetime(2026, 3, 2, 7, 0)  # 10:00 in Moscow


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    add_staff(sim)
    sim.clock.set(NOW)
    return sim


def _add(sim: Simulator, user_id: int = HEAD, **fields: Any) -> dict[str, Any]:
    fields = {"TITLE": "Call the client", "RESPONSIBLE_ID": SELLER, **fields}
    return sim.call("tasks.task.add", {"fields": fields}, user_id=user_id)["result"]["task"]


def _task_row(sim: Simulator, task_id: str) -> Any:
    with sim.engine.connect() as conn:
        tasks = tasks_tables.tasks
        return conn.execute(select(tasks).where(tasks.c.id == int(task_id))).first()


def _inbox(sim: Simulator, user_id: int, kind: str | None = None) -> list[Any]:
    n = im_tables.notifications
    stmt = select(n).where(n.c.user_id == user_id).order_by(n.c.id)
    if kind:
        stmt = stmt.where(n.c.kind == kind)
    with sim.engine.connect() as conn:
        return list(conn.execute(stmt).all())


def _history(sim: Simulator, task_id: str, **params: Any) -> list[dict[str, Any]]:
    return sim.call("tasks.task.history.list", {"taskId": task_id, **params})["result"]["list"]


def test_add_answers_in_camel_case_and_tells_the_responsible(portal: Simulator) -> None:
    task = _add(portal, DEADLINE="2026-03-05T18:00:00", UF_CRM_TASK=["D_12", "CO_3"],
                ALLOW_CHANGE_DEADLINE="Y", PRIORITY=2)
    assert task["title"] == "Call the client" and task["id"].isdigit()
    assert (task["createdBy"], task["responsibleId"], task["status"]) == ("2", "3", "2")
    assert task["deadline"] == "2026-03-05T18:00:00+03:00"
    assert (task["allowChangeDeadline"], task["taskControl"], task["priority"]) == ("Y", "N", "2")
    assert task["closedDate"] is None and task["action"]["changeDeadline"] is True
    assert "ufCrmTask" not in task  # user fields come only when selected
    got = portal.call("tasks.task.get", {"taskId": task["id"], "select": ["ID", "UF_CRM_TASK"]})
    assert set(got["result"]["task"]) == {"id", "ufCrmTask", "action"}
    assert got["result"]["task"]["ufCrmTask"] == ["D_12", "CO_3"]
    (notice,) = _inbox(portal, SELLER, "task_assigned")
    assert "Call the client" in notice.message and notice.entity_id == int(task["id"])
    assert _inbox(portal, HEAD) == []  # the creator assigned it, nobody tells her
    assert [h["field"] for h in _history(portal, task["id"])] == ["NEW"]


def test_add_reports_every_missing_field_and_creates_nothing(portal: Simulator) -> None:
    with pytest.raises(SimError) as error:
        portal.call("tasks.task.add", {"fields": {"DESCRIPTION": "no title, nobody"}})
    assert error.value.code == "ERROR_CORE"
    assert error.value.description == "Task title not specified<br>Assignee not specified<br>"
    with pytest.raises(SimError) as unknown:
        _add(portal, RESPONSIBLE_ID=99)
    assert unknown.value.description == 'User specified in the "Assignee" field not found<br>'
    with pytest.raises(SimError) as status:
        _add(portal, STATUS=9)
    assert status.value.description == "Invalid status<br>"
    with pytest.raises(SimError) as empty:
        portal.call("tasks.task.add", {})
    assert empty.value.code == "100"
    assert portal.call("tasks.task.list", {})["total"] == 0


def test_update_writes_one_history_row_per_changed_field(portal: Simulator) -> None:
    task = _add(portal, DEADLINE="2026-03-05T18:00:00")
    answer = portal.call("tasks.task.update", {"taskId": task["id"], "fields": {
        "TITLE": "Call the client back", "DEADLINE": "2026-03-06T18:00:00", "PRIORITY": 2,
        "TASK_CONTROL": "Y", "DESCRIPTION": "", "RESPONSIBLE_ID": SELLER}}, user_id=HEAD)
    assert answer["result"]["task"]["title"] == "Call the client back"
    rows = {h["field"]: h for h in _history(portal, task["id"])}
    assert set(rows) == {"NEW", "TITLE", "DEADLINE", "PRIORITY", "TASK_CONTROL"}
    assert rows["TITLE"]["value"] == {"from": "Call the client", "to": "Call the client back"}
    deadline = rows["DEADLINE"]["value"]
    assert int(deadline["to"]) - int(deadline["from"]) == 86400  # Unix timestamps
    assert rows["TASK_CONTROL"]["value"] == {"from": "N", "to": "Y"}
    assert rows["TITLE"]["user"]["login"] == "helen@demo.test"
    only = _history(portal, task["id"], filter={"FIELD": "DEADLINE"})
    assert [h["field"] for h in only] == ["DEADLINE"]


def test_responsible_changes_the_deadline_only_when_the_task_allows_it(portal: Simulator) -> None:
    locked = _add(portal, DEADLINE="2026-03-05T18:00:00")
    with pytest.raises(SimError) as error:
        portal.call("tasks.task.update", {"taskId": locked["id"], "fields": {
            "DEADLINE": "2026-03-09T18:00:00"}}, user_id=SELLER)
    assert error.value.code == "ERROR_CORE" and "deadline" in error.value.description
    assert _task_row(portal, locked["id"]).deadline == datetime(2026, 3, 5, 15, 0)
    got = portal.call("tasks.task.get", {"taskId": locked["id"]}, user_id=SELLER)
    assert got["result"]["task"]["action"]["changeDeadline"] is False
    # The responsible may still move the status; the creator may move the deadline.
    portal.call("tasks.task.update", {"taskId": locked["id"], "fields": {"STATUS": 3}},
                user_id=SELLER)
    portal.call("tasks.task.update", {"taskId": locked["id"], "fields": {
        "DEADLINE": "2026-03-09T18:00:00"}}, user_id=HEAD)
    free = _add(portal, DEADLINE="2026-03-05T18:00:00", ALLOW_CHANGE_DEADLINE="Y")
    moved = portal.call("tasks.task.update", {"taskId": free["id"], "fields": {
        "DEADLINE": "2026-03-07T18:00:00"}}, user_id=SELLER)["result"]["task"]
    assert moved["deadline"] == "2026-03-07T18:00:00+03:00"
    with pytest.raises(SimError) as title:  # the responsible does not edit the task itself
        portal.call("tasks.task.update", {"taskId": free["id"], "fields": {"TITLE": "Mine"}},
                    user_id=SELLER)
    assert title.value.code == "0"


def test_a_veto_leaves_the_task_unchanged(portal: Simulator) -> None:
    task = _add(portal, DEADLINE="2026-03-05T18:00:00", ALLOW_CHANGE_DEADLINE="Y")
    published: list[SimEvent] = []
    portal.bus.subscribe_after(published.append)

    def deadline_guard(event: SimEvent) -> None:
        if event.name == "ONBEFORETASKUPDATE" and event.before and event.after \
                and event.before["deadline"] != event.after["deadline"]:
            raise Veto("The deadline of this task is locked by the deadline policy")

    portal.bus.subscribe_before(deadline_guard)
    with pytest.raises(SimError) as error:
        portal.call("tasks.task.update", {"taskId": task["id"], "fields": {
            "DEADLINE": "2026-03-12T18:00:00", "TITLE": "Sneaky"}}, user_id=HEAD)
    assert error.value.code == "ERROR_CORE"
    assert error.value.description == "The deadline of this task is locked by the deadline policy"
    row = _task_row(portal, task["id"])
    assert (row.title, row.deadline) == ("Call the client", datetime(2026, 3, 5, 15, 0))
    assert [h["field"] for h in _history(portal, task["id"])] == ["NEW"]
    assert published == []
    portal.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": 3}},
                user_id=SELLER)  # other changes pass the guard
    assert _task_row(portal, task["id"]).status == 3


def test_ontaskupdate_payload_and_inprocess_state(portal: Simulator) -> None:
    task = _add(portal, DEADLINE="2026-03-05T18:00:00")
    seen: list[SimEvent] = []
    portal.bus.subscribe_after(seen.append)
    portal.call("tasks.task.update", {"taskId": task["id"], "fields": {
        "RESPONSIBLE_ID": SELLER2}}, user_id=HEAD)
    (event,) = [e for e in seen if e.name == "ONTASKUPDATE"]
    assert event.data == {"FIELDS_BEFORE": {"ID": task["id"]}, "FIELDS_AFTER": {"ID": task["id"]},
                          "IS_ACCESSIBLE_BEFORE": "undefined",
                          "IS_ACCESSIBLE_AFTER": "undefined"}
    assert event.before is not None and event.after is not None
    assert (event.before["responsibleId"], event.after["responsibleId"]) == ("3", "4")
    assert event.actor_id == HEAD and event.entity_type == "TASK"
    assert len(_inbox(portal, SELLER2, "task_assigned")) == 1
    added = portal.call("tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": HEAD}},
                        user_id=HEAD)["result"]["task"]
    (add_event,) = [e for e in seen if e.name == "ONTASKADD"]
    assert add_event.data["FIELDS_BEFORE"] == "undefined"
    assert add_event.data["FIELDS_AFTER"] == {"ID": added["id"]}
    portal.call("tasks.task.delete", {"taskId": added["id"]}, user_id=HEAD)
    (delete_event,) = [e for e in seen if e.name == "ONTASKDELETE"]
    assert delete_event.data["FIELDS_AFTER"] == "undefined"
    assert delete_event.data["IS_ACCESSIBLE_AFTER"] == "N"
    assert portal.call("tasks.task.get", {"taskId": added["id"]})["result"] == []


def test_comments_by_name_and_by_position(portal: Simulator) -> None:
    task = _add(portal)
    seen: list[SimEvent] = []
    portal.bus.subscribe_after(seen.append)
    first = portal.call("task.commentitem.add", {"0": task["id"], "1": {
        "POST_MESSAGE": "Called, no answer"}}, user_id=SELLER)["result"]
    second = portal.call("task.commentitem.add", {"TASKID": task["id"], "FIELDS": {
        "POST_MESSAGE": "Try after lunch", "AUTHOR_ID": HEAD}})["result"]
    comments = portal.call("task.commentitem.getlist", {"TASKID": task["id"]})["result"]
    assert [c["ID"] for c in comments] == [str(second), str(first)]  # newest first
    assert comments[1]["AUTHOR_ID"] == "3" and comments[1]["POST_MESSAGE"] == "Called, no answer"
    one = portal.call("task.commentitem.get", {"TASKID": task["id"], "ITEMID": first})
    assert one["result"]["AUTHOR_NAME"] == "Sam Seller"
    by_author = portal.call("task.commentitem.getlist", {
        "TASKID": task["id"], "FILTER": {"AUTHOR_ID": HEAD}})["result"]
    assert [c["ID"] for c in by_author] == [str(second)]
    adds = [e for e in seen if e.name == "ONTASKCOMMENTADD"]
    assert adds[0].data["FIELDS_AFTER"] == {"ID": str(first), "TASK_ID": task["id"]}
    # The creator (Helen) hears about Sam's comment, Sam about Helen's; nobody about their own.
    assert [n.message for n in _inbox(portal, HEAD, "task_comment")] == [
        'New comment on the task "Call the client": Called, no answer']
    assert len(_inbox(portal, SELLER, "task_comment")) == 1
    comment_rows = _history(portal, task["id"], filter={"FIELD": "COMMENT"})
    assert {h["value"]["to"] for h in comment_rows} == {str(first), str(second)}


def test_comments_need_text_and_access(portal: Simulator) -> None:
    task = _add(portal)
    with pytest.raises(SimError) as empty:
        portal.call("task.commentitem.add", {"TASKID": task["id"], "FIELDS": {
            "POST_MESSAGE": "  "}})
    assert empty.value.description == "Comment text not specified<br>"
    with pytest.raises(SimError) as stranger:
        portal.call("task.commentitem.add", {"TASKID": task["id"], "FIELDS": {
            "POST_MESSAGE": "hello"}}, user_id=ACCOUNTANT)
    assert stranger.value.description == "Insufficient permissions to add a comment.<br>"
    assert portal.call("task.commentitem.getlist", {"TASKID": task["id"]})["result"] == []


def test_list_filters_orders_pages_and_hides_other_peoples_tasks(portal: Simulator) -> None:
    for n in range(55):
        _add(portal, TITLE=f"Task {n}", DEADLINE=(NOW + timedelta(days=n)).isoformat() + "Z")
    _add(portal, ACCOUNTANT, TITLE="Ledger check", RESPONSIBLE_ID=ACCOUNTANT)
    first = portal.call("tasks.task.list", {"select": ["ID", "TITLE"]})
    assert (first["total"], first["next"], len(first["result"]["tasks"])) == (56, 50, 50)
    assert first["result"]["tasks"][0]["title"] == "Ledger check"  # ID desc by default
    soon = portal.call("tasks.task.list", {"filter": {"<DEADLINE": "2026-03-04T10:00:00+03:00",
                                                      "RESPONSIBLE_ID": SELLER},
                                           "order": {"DEADLINE": "asc"}})["result"]["tasks"]
    assert [t["title"] for t in soon] == ["Task 0", "Task 1"]
    not_mine = portal.call("tasks.task.list", {"filter": {"!RESPONSIBLE_ID": SELLER}})
    assert not_mine["total"] == 1
    assert portal.call("tasks.task.list", {}, user_id=SELLER)["total"] == 55
    assert portal.call("tasks.task.list", {}, user_id=SELLER2)["total"] == 0
    assert portal.call("tasks.task.list", {}, user_id=ACCOUNTANT)["total"] == 1
    assert portal.call("tasks.task.list", {}, user_id=ADMIN)["total"] == 56


def test_task_control_sends_a_finished_task_to_the_creator(portal: Simulator) -> None:
    task = _add(portal, TASK_CONTROL="Y")
    done = portal.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": 5}},
                       user_id=SELLER)["result"]["task"]
    assert done["status"] == "4" and done["closedDate"] is None
    closed = portal.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": 5}},
                         user_id=HEAD)["result"]["task"]
    assert closed["status"] == "5" and closed["closedDate"] == "2026-03-02T10:00:00+03:00"
    assert closed["closedBy"] == "2"


def test_the_creator_accepts_or_returns_work_awaiting_control(portal: Simulator) -> None:
    task = _add(portal, TASK_CONTROL="Y")

    def decide(name: str, user_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = portal.call(f"tasks.task.{name}", {"taskId": task["id"]},
                                             user_id=user_id)["result"]["task"]
        return answer

    def refused(name: str, user_id: int) -> None:
        with pytest.raises(SimError) as error:
            decide(name, user_id)
        assert (error.value.code, error.value.description) == (
            "1048582", "Action on the task is not allowed")

    refused("approve", HEAD)  # nothing to accept yet
    portal.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": 5}},
                user_id=SELLER)
    awaiting = portal.call("tasks.task.get", {"taskId": task["id"]}, user_id=HEAD)
    assert awaiting["result"]["task"]["action"]["approve"] is True
    refused("approve", SELLER)  # the responsible may not accept their own work
    returned = decide("disapprove", HEAD)
    assert returned["status"] == "2" and returned["closedDate"] is None
    refused("disapprove", HEAD)
    portal.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": 5}},
                user_id=SELLER)
    accepted = decide("approve", HEAD)
    assert accepted["status"] == "5" and accepted["closedBy"] == str(HEAD)
    assert [h["value"]["to"] for h in _history(portal, task["id"], filter={"FIELD": "STATUS"})
            ] == ["5", "4", "2", "4"]
    with pytest.raises(SimError) as missing:
        portal.call("tasks.task.approve", {})
    assert missing.value.code == "100"


def test_tick_warns_once_before_the_deadline_and_once_after(portal: Simulator) -> None:
    task = _add(portal, DEADLINE="2026-03-02T10:45:00")  # 45 minutes from now
    later = _add(portal, TITLE="Next week", DEADLINE="2026-03-09T10:00:00")
    assert tick(portal) == {"task_overdue": 0, "task_deadline_soon": 1}
    assert tick(portal) == {"task_overdue": 0, "task_deadline_soon": 0}
    portal.clock.advance(3600)
    assert tick(portal) == {"task_overdue": 1, "task_deadline_soon": 0}
    assert tick(portal) == {"task_overdue": 0, "task_deadline_soon": 0}
    soon = _inbox(portal, SELLER, "task_deadline_soon")
    overdue = _inbox(portal, SELLER, "task_overdue")
    assert [n.entity_id for n in soon] == [int(task["id"])]
    assert [n.entity_id for n in overdue] == [int(task["id"])]
    assert int(later["id"]) not in {n.entity_id for n in soon + overdue}
    # Moving the deadline later starts the warnings over; completed tasks are left alone.
    portal.call("tasks.task.update", {"taskId": task["id"], "fields": {
        "DEADLINE": "2026-03-02T11:30:00"}}, user_id=HEAD)
    assert tick(portal) == {"task_overdue": 0, "task_deadline_soon": 1}
    portal.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": 5}},
                user_id=HEAD)
    portal.clock.advance(3600)
    assert tick(portal) == {"task_overdue": 0, "task_deadline_soon": 0}


def test_an_auditor_may_not_change_the_status_but_an_accomplice_may(portal: Simulator) -> None:
    task = _add(portal, AUDITORS=[ACCOUNTANT], ACCOMPLICES=[SELLER2])
    with pytest.raises(SimError) as refused:
        portal.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": 5}},
                    user_id=ACCOUNTANT)
    assert (refused.value.code, refused.value.description) == (
        "0", "Action on the task is not allowed (internal error)")
    assert _task_row(portal, task["id"]).status == 2
    assert [h["field"] for h in _history(portal, task["id"])] == ["NEW"]
    seen = portal.call("tasks.task.get", {"taskId": task["id"]}, user_id=ACCOUNTANT)
    assert seen["result"]["task"]["action"]["complete"] is False  # the auditor still reads it
    started = portal.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": 3}},
                          user_id=SELLER2)["result"]["task"]
    assert started["status"] == "3"
    done = portal.call("tasks.task.update", {"taskId": task["id"], "fields": {"STATUS": 5}},
                       user_id=SELLER)["result"]["task"]
    assert done["status"] == "5"

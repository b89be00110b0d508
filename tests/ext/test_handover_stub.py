"""The in-memory portal behind ``bench/handover.py``'s ``engine_only`` path answers the move
engine's commands as the simulated portal does, so the bench measures the engine against the
same answers it gets from a portal."""

from __future__ import annotations

from typing import Any

from bench import handover_workload as wl
from bench.handover_stub import StubPortal
from simulator import Simulator

DEAL_SELECT = "select[0]=ID&select[1]=ASSIGNED_BY_ID&select[2]=UF_CRM_PREV_RESPONSIBLE"
TASK_SELECT = "select[0]=ID&select[1]=RESPONSIBLE_ID&select[2]=TITLE"


def like(answer: Any, shape: Any) -> Any:
    """``answer`` cut down to the keys ``shape`` has, row by row (the stub answers only the
    fields the engine reads)."""
    if isinstance(shape, dict) and isinstance(answer, dict):
        return {key: like(answer.get(key), value) for key, value in shape.items()}
    if isinstance(shape, list) and isinstance(answer, list) and len(shape) == len(answer):
        return [like(item, model) for item, model in zip(answer, shape, strict=True)]
    return answer


def test_the_bench_stub_answers_the_engines_commands_as_the_simulator_does() -> None:
    sim = Simulator("sqlite:///:memory:")
    wl.empty_portal(sim)
    wl.add_client_base(sim, counts={"deal": 4, "task": 3, "smart_invoice": 2})
    sim.call("crm.deal.userfield.add", {"fields": {"FIELD_NAME": "PREV_RESPONSIBLE",
                                                   "USER_TYPE_ID": "employee"}})
    holdings: dict[str, dict[int, int]] = {kind: {} for kind in wl.MIX}
    for (kind, item_id), holder in wl.holders_of(sim).items():
        holdings[kind][item_id] = holder
    stub = StubPortal(holdings)
    stub("crm.deal.userfield.add", {})
    deals, tasks = sorted(holdings["deal"]), sorted(holdings["task"])
    invoices = sorted(holdings["smart_invoice"])
    missing = max(deals + tasks) + 100
    rereads = "&".join(f"filter[@ID][{n}]={item}" for n, item in
                       enumerate([deals[0], deals[2], missing]))
    # Hand over the first deal and task, page through what the owner still holds (the second
    # page's ``>ID`` refers to the first page's last row), re-read by id, and hand one back.
    commands = {
        "w": f"crm.deal.update?id={deals[0]}&fields[ASSIGNED_BY_ID]={wl.DEPUTY}"
             f"&fields[UF_CRM_PREV_RESPONSIBLE]={wl.OWNER}&params[REGISTER_SONET_EVENT]=N",
        "t": f"tasks.task.update?taskId={tasks[0]}&fields[RESPONSIBLE_ID]={wl.DEPUTY}",
        "i": f"crm.item.update?entityTypeId=31&id={invoices[0]}"
             f"&fields[assignedById]={wl.DEPUTY}",
        "p0": f"crm.deal.list?filter[ASSIGNED_BY_ID]={wl.OWNER}&filter[>ID]=0&{DEAL_SELECT}"
              f"&order[ID]=ASC&start=-1",
        "p1": f"crm.deal.list?filter[ASSIGNED_BY_ID]={wl.OWNER}"
              f"&filter[>ID]=$result[p0][0][ID]&{DEAL_SELECT}&order[ID]=ASC&start=-1",
        "r": f"crm.deal.list?{rereads}&{DEAL_SELECT}&order[ID]=ASC&start=-1",
        "tl": f"tasks.task.list?filter[RESPONSIBLE_ID]={wl.OWNER}&filter[>ID]=0&{TASK_SELECT}"
              f"&order[ID]=ASC&start=-1",
        "il": f"crm.item.list?entityTypeId=31&filter[assignedById]={wl.OWNER}&filter[>id]=0"
              f"&select[0]=id&select[1]=assignedById&select[2]=uf_*&order[id]=ASC&start=-1",
        "b": f"crm.deal.update?id={deals[0]}&fields[ASSIGNED_BY_ID]={wl.OWNER}"
             f"&fields[UF_CRM_PREV_RESPONSIBLE]=&params[REGISTER_SONET_EVENT]=N",
        "after": f"crm.deal.list?filter[@ID][0]={deals[0]}&{DEAL_SELECT}&order[ID]=ASC"
                 f"&start=-1",
    }
    expected = sim.call("batch", {"halt": 0, "cmd": commands})["result"]
    answered = stub("batch", {"cmd": commands})["result"]

    assert expected["result_error"] == [] and answered["result_error"] == []
    assert list(answered["result"]) == list(commands)
    assert like(expected["result"], answered["result"]) == answered["result"]
    # what the comparison covers: the moves happened and the lists are not empty
    assert [row["ID"] for row in answered["result"]["p0"]] == [str(d) for d in deals[1:]]
    assert [row["ID"] for row in answered["result"]["p1"]] == [str(d) for d in deals[2:]]
    assert [row["id"] for row in answered["result"]["tl"]["tasks"]] == \
        [str(t) for t in tasks[1:]]
    assert [row["id"] for row in answered["result"]["il"]["items"]] == [invoices[1]]
    assert stub.holders["task"][tasks[0]] == wl.DEPUTY

    counted = {"filter": {"ASSIGNED_BY_ID": wl.OWNER, ">ID": 0},
               "select": ["ID", "ASSIGNED_BY_ID", "UF_CRM_PREV_RESPONSIBLE"],
               "order": {"ID": "ASC"}, "start": 0}
    portal_page, stub_page = sim.call("crm.deal.list", counted), stub("crm.deal.list", counted)
    assert stub_page["total"] == portal_page["total"] == len(deals)
    assert like(portal_page["result"], stub_page["result"]) == stub_page["result"]
    sim.engine.dispose()

"""The in-memory portal behind ``bench/handover.py``'s ``engine_only`` path: it reads every
command's query string as the portal does (PHP's rules, simulator/phpquery.py), and the move
engine hands a client base over and back through it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench import handover_workload as wl
from bench.handover import bench_engine_only
from bench.handover_stub import StubPortal, parse_query
from portal_ext.handover.portal_calls import _reread_parts, update_template
from portal_ext.handover.types import ENTITY_TYPES
from simulator import phpquery


def engine_queries() -> list[str]:
    """The queries the engine sends: re-reads by id and updates, with and without the user
    field."""
    out = []
    for kind in ENTITY_TYPES.values():
        head, tail = _reread_parts(kind)
        out.append("&".join(f"{head}{n}]={100 + n}" for n in range(50)) + tail)
        for names in ((kind.responsible_field,), (kind.responsible_field, "UF_CRM_X")):
            out.append(update_template(kind, names).format(7, 4, 3))
            out.append(update_template(kind, names).format(7, 3, ""))
    return out


ODD = ["", "a", "=1", "[a]=1", "a[b=1", "a[b]c=1", "a[b]]=1", " a[b]=2", "a[]=&b[x][]=",
       "a[0]=1&a[2]=2", "a[1]=1&a[0]=0", "a=1&a[b]=2", "a[b]=2&a=1", "f%5B%3EID%5D=5&q=a+b",
       "a[07]=1", "a[-1]=x&a[]=y", "a[x][]=1&a[x][]=&a[x][]=3", "a[][]=1&a[][]=2",
       "filter[>ID]=$result[p0][49][ID]", "a[99999999999999999999]=1", "a[b][]=&a[b][]=1"]


@pytest.mark.parametrize("query", engine_queries() + ODD)
def test_the_stub_reads_a_query_as_the_portal_does(query: str) -> None:
    assert repr(parse_query(query)) == repr(phpquery.parse(query))


def test_the_stub_reads_any_query_as_the_portal_does() -> None:
    tokens = ["a", "b", "[", "]", "[]", "[0]", "[1]", "[x]", "[07]", "[-1]", "=", "&", "1",
              "", "%5B", "%5D", "+", " ", "%3E", "[a][b]"]
    rng = random.Random(7)
    for _ in range(5000):
        query = "".join(rng.choice(tokens) for _ in range(rng.randint(0, 12)))
        assert repr(parse_query(query)) == repr(phpquery.parse(query)), query


def test_the_stub_answers_the_engines_batch_as_the_portal_would() -> None:
    stub = StubPortal({"deal": {5: wl.OWNER, 6: wl.DEPUTY}, "task": {9: wl.OWNER}})
    deal, task = ENTITY_TYPES["deal"], ENTITY_TYPES["task"]
    head, tail = _reread_parts(deal)
    answer = stub("batch", {"cmd": {
        "w": "crm.deal.update?" + update_template(
            deal, ("ASSIGNED_BY_ID", "UF_CRM_PREV_RESPONSIBLE")).format(5, wl.DEPUTY, wl.OWNER),
        "t": "tasks.task.update?" + update_template(task, ("RESPONSIBLE_ID",)).format(
            9, wl.DEPUTY),
        "r": f"crm.deal.list?{head}0]=5&{head}1]=6&{head}2]=404{tail}"}})
    results = answer["result"]["result"]
    assert results["w"] is True and results["t"] is True
    assert [(row["ID"], row["ASSIGNED_BY_ID"], row["UF_CRM_PREV_RESPONSIBLE"])
            for row in results["r"]] == [("5", str(wl.DEPUTY), str(wl.OWNER)),
                                                  ("6", str(wl.DEPUTY), None)]
    assert stub.holders["task"][9] == wl.DEPUTY


def test_the_engine_hands_a_client_base_over_and_back_through_the_stub(tmp_path: Path) -> None:
    result = bench_engine_only(tmp_path, 3000)  # asserts every item is back where it was
    assert result["items"] == 3000

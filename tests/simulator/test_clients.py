"""Real Bitrix24 client libraries, written by others for the real portal, against the simulator
served on a loopback port: fast_bitrix24 over HTTP and the official b24pysdk over HTTPS."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from simulator import Simulator
from simulator.core.ratelimit import LeakyBucket, limits_for
from simulator.web import create_app
from tests.simulator.http_support import SteppingMonotonic, add_admin, add_user

fast_bitrix24 = pytest.importorskip("fast_bitrix24")
b24pysdk = pytest.importorskip("b24pysdk")
trustme = pytest.importorskip("trustme")


@contextmanager
def serve(app: Flask, ssl_context: ssl.SSLContext | None = None) -> Iterator[str]:
    """The app on a random loopback port, in a thread, for as long as the block runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, name="sim-http", daemon=True)
    thread.start()
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def count_statuses(app: Flask) -> list[int]:
    """Record the HTTP status of every answer the app gives."""
    statuses: list[int] = []
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: Any, *args: Any) -> Any:
            statuses.append(int(status.split()[0]))
            return start_response(status, headers, *args)
        return inner(environ, start)

    app.wsgi_app = recording  # type: ignore[method-assign]
    return statuses


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    add_admin(sim)
    add_user(sim, 5, "anna@test.portal")
    return sim


@pytest.fixture
def event_loop_for_sync_client() -> Iterator[None]:
    # fast_bitrix24's synchronous wrapper runs on the thread's current event loop.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


# -- fast_bitrix24 ------------------------------------------------------------------------------
@pytest.fixture
def fast(portal: Simulator, event_loop_for_sync_client: None) -> Iterator[Any]:
    with serve(create_app(portal)) as base:
        yield fast_bitrix24.Bitrix(f"{base}/rest/1/testtoken/", verbose=False)


def add_leads(bitrix: Any, count: int) -> list[int]:
    items = [{"fields": {"TITLE": f"Lead {n}", "SOURCE_ID": "CALL" if n < 10 else "WEB",
                         "ASSIGNED_BY_ID": 5 if n % 2 else 1}} for n in range(count)]
    made = bitrix.call("crm.lead.add", items)
    # the library hands back a lone value, not a tuple, for a one-command batch
    return sorted(int(i) for i in (made if isinstance(made, tuple) else (made,)))


def test_fast_bitrix24_call_and_get_all_over_several_pages(fast: Any) -> None:
    ids = add_leads(fast, 130)  # three batches of 50 commands under the hood
    assert len(set(ids)) == 130
    web = fast.get_all("crm.lead.list", {"filter": {"SOURCE_ID": "WEB", ">ID": 0},
                                         "select": ["ID", "TITLE", "SOURCE_ID"]})
    assert len(web) == 120  # first page by POST, the rest by batch with start=50, 100
    assert {lead["TITLE"] for lead in web} == {f"Lead {n}" for n in range(10, 130)}
    assert {int(lead["ID"]) for lead in web} <= set(ids)
    annas = fast.get_all("crm.lead.list", {"filter": {"ASSIGNED_BY_ID": 5}})
    assert len(annas) == 65


def test_fast_bitrix24_get_by_id_and_single_calls(fast: Any) -> None:
    ids = add_leads(fast, 3)
    by_id = fast.get_by_ID("crm.lead.get", ids)
    assert {int(k) for k in by_id} == set(ids)
    assert by_id[str(ids[0])]["TITLE"] == "Lead 0"
    single = fast.call("crm.lead.get", {"ID": ids[1]})  # a single call still goes by batch
    assert single["order0000000000"]["TITLE"] == "Lead 1"


def test_fast_bitrix24_call_batch_with_result_references(fast: Any) -> None:
    answer = fast.call_batch({"halt": 0, "cmd": {
        "made": "crm.lead.add?fields[TITLE]=Referenced&fields[SOURCE_ID]=WEB",
        "read": "crm.lead.get?ID=$result[made]",
        "listed": "crm.lead.list?filter[ID]=$result[made]&select[]=ID&select[]=TITLE",
    }})
    assert answer["read"]["TITLE"] == "Referenced"
    assert answer["listed"] == [{"ID": str(answer["made"]), "TITLE": "Referenced"}]


def test_fast_bitrix24_raw_call_sends_json_unchanged(fast: Any, portal: Simulator) -> None:
    [lead_id] = add_leads(fast, 1)
    raw = fast.call("crm.lead.update", {"ID": lead_id, "fields": {"TITLE": "Renamed",
                                                                  "COMMENTS": None}}, raw=True)
    assert raw["result"] is True
    assert "operating" in raw["time"]
    assert portal.call("crm.lead.get", {"id": lead_id})["result"]["TITLE"] == "Renamed"


def test_fast_bitrix24_get_all_with_a_nested_or_filter_over_several_pages(fast: Any) -> None:
    sources = ("CALL", "WEB", "EMAIL")
    made = fast.call("crm.lead.add", [{"fields": {"TITLE": f"Lead {n}",
                                                  "SOURCE_ID": sources[n % 3]}}
                                      for n in range(150)])
    assert len(made) == 150
    either = {"0": {"logic": "OR", "0": {"=sourceId": "CALL"}, "1": {"=sourceId": "WEB"}}}
    # Page 1 goes as JSON; pages 2 and 3 as batch commands with PHP-style
    # filter[0][logic]=OR&filter[0][0][%3DsourceId]=CALL...
    items = fast.get_all("crm.item.list", {"entityTypeId": 1, "filter": either,
                                           "select": ["id", "title", "sourceId"]})
    assert len(items) == 100
    assert {item["sourceId"] for item in items} == {"CALL", "WEB"}
    assert {item["title"] for item in items} == {f"Lead {n}" for n in range(150) if n % 3 < 2}


def test_fast_bitrix24_positional_raw_call_adds_a_task_comment(fast: Any,
                                                                portal: Simulator) -> None:
    task = portal.call("tasks.task.add", {"fields": {"TITLE": "Call back", "RESPONSIBLE_ID": 5}})
    task_id = int(task["result"]["task"]["id"])
    # The form fast_bitrix24's README gives for positional methods: a JSON array body.
    answer = fast.call("task.commentitem.add", [task_id, {"POST_MESSAGE": "Called, no answer"}],
                       raw=True)
    comment_id = answer["result"]
    assert isinstance(comment_id, int) and comment_id > 0
    comments = portal.call("task.commentitem.getlist", {"TASKID": task_id})["result"]
    assert [(c["ID"], c["POST_MESSAGE"]) for c in comments] == [
        (str(comment_id), "Called, no answer")]


def test_fast_bitrix24_surfaces_portal_errors(fast: Any) -> None:
    with pytest.raises(fast_bitrix24.server_response.ErrorInServerResponseException) as caught:
        fast.call("crm.lead.get", {"ID": 999999})
    assert "Not found" in str(caught.value)
    import aiohttp
    with pytest.raises(aiohttp.ClientResponseError) as raw_error:
        fast.call("crm.nonexistent.method", {"x": 1}, raw=True)
    assert raw_error.value.status == 404


def test_fast_bitrix24_with_a_user_field(fast: Any) -> None:
    created = fast.call("crm.lead.userfield.add", {"fields": {
        "FIELD_NAME": "PRIORITY", "USER_TYPE_ID": "string", "EDIT_FORM_LABEL": "Priority"}})
    assert int(next(iter(created.values())) if isinstance(created, dict) else created) > 0
    ids = add_leads(fast, 4)
    fast.call("crm.lead.update", [{"ID": i, "fields": {"UF_CRM_PRIORITY": "high"}}
                                  for i in ids[:2]])
    high = fast.get_all("crm.lead.list", {"filter": {"UF_CRM_PRIORITY": "high"},
                                          "select": ["ID", "UF_CRM_PRIORITY"]})
    assert sorted(int(lead["ID"]) for lead in high) == ids[:2]
    assert {lead["UF_CRM_PRIORITY"] for lead in high} == {"high"}


def test_fast_bitrix24_rides_out_query_limit_exceeded(portal: Simulator,
                                                      event_loop_for_sync_client: None) -> None:
    app = create_app(portal)
    statuses = count_statuses(app)
    with serve(app) as base:
        bitrix = fast_bitrix24.Bitrix(f"{base}/rest/1/testtoken/", verbose=False, batch_size=10)
        ids = add_leads(bitrix, 60)
        limits = limits_for(portal)
        # to the bucket, requests arrive at 10 per second however fast this machine is
        limits.bucket = LeakyBucket(1, 5, SteppingMonotonic(0.1))
        limits.configure(enabled=True, x=1, y=5)  # so about every other one is refused
        statuses.clear()
        with bitrix.slow(max_concurrent_requests=1):
            leads = bitrix.get_by_ID("crm.lead.get", ids)
    assert {int(k) for k in leads} == set(ids)
    assert 503 in statuses  # the portal did refuse some requests ...
    assert statuses[-1] == 200  # ... and the library retried until it got every answer


# -- b24pysdk over HTTPS -------------------------------------------------------------------------
@pytest.fixture
def b24(portal: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """b24pysdk speaks HTTPS only: serve with a throw-away CA that requests is told to trust."""
    authority = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    bundle = tmp_path / "portal-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))  # b24pysdk calls requests.post
    with serve(create_app(portal), server_context) as base:
        token = b24pysdk.BitrixWebhook(domain=base.split("://", 1)[1], webhook_token="1/testtoken")
        yield b24pysdk.Client(token)


def test_b24pysdk_add_get_update(b24: Any, portal: Simulator) -> None:
    lead_id = b24.crm.lead.add(fields={"TITLE": "From the SDK", "SOURCE_ID": "WEB"}).result
    assert isinstance(lead_id, int) and lead_id > 0
    assert b24.crm.lead.get(bitrix_id=lead_id).result["TITLE"] == "From the SDK"
    assert b24.crm.lead.update(bitrix_id=lead_id, fields={"TITLE": "Renamed"}).result is True
    assert portal.call("crm.lead.get", {"id": lead_id})["result"]["TITLE"] == "Renamed"


def test_b24pysdk_lists_every_page(b24: Any) -> None:
    adds = {str(n): b24.crm.lead.add(fields={"TITLE": f"Lead {n}", "SOURCE_ID": "WEB"})
            for n in range(1, 121)}
    made = b24.call_batches(adds).result  # three batches of at most 50 commands
    assert len(made.result) == 120 and not made.result_error
    request = b24.crm.lead.list(select=["ID", "TITLE"], filter={"SOURCE_ID": "WEB"})
    paged = request.as_list().result
    fast_paged = list(b24.crm.lead.list(select=["ID", "TITLE"]).as_list_fast().result)
    assert len(paged) == len(fast_paged) == 120
    assert sorted(int(lead["ID"]) for lead in paged) == sorted(int(i) for i in made.result.values())
    assert [lead["ID"] for lead in fast_paged] == sorted((lead["ID"] for lead in paged), key=int)


def test_b24pysdk_surfaces_portal_errors(b24: Any) -> None:
    from b24pysdk.errors import BitrixAPIError
    with pytest.raises(BitrixAPIError) as caught:
        b24.crm.lead.get(bitrix_id=999999).call()
    assert caught.value.status_code == 400
    assert caught.value.error_description == "Not found"

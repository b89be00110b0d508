"""The portal port's contract: the same cases through the in-process transport and the HTTP
transport (fast_bitrix24 over a real loopback server), against the simulated demo portal."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.transports import HttpTransport, InProcessTransport
from simulator import Simulator
from simulator.core.ratelimit import limits_for
from simulator.crm import tables as crm_tables
from simulator.web import create_app as create_simulator_app
from tests.conftest import simulator_database_url
from wsgi import simulator_dispatch

TRANSPORTS = ["inprocess", "http"]


class StatusCounter:
    """WSGI middleware counting the portal's answers by HTTP status."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def counting(status: str, headers: Any, *args: Any) -> Any:
            self.statuses[int(status.split()[0])] += 1
            return start_response(status, headers, *args)

        return self.app(environ, counting)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """The demo portal, seeded once for this module (the cases only read it)."""
    sim = Simulator(simulator_database_url(Path(tmp_path_factory.mktemp("contract"))),
                    webhook_token="testtoken")
    sim.reset()
    sim.clock.unfreeze()
    sim.seed("demo")
    yield sim
    sim.engine.dispose()


@pytest.fixture(scope="module")
def server(portal: Simulator) -> Iterator[tuple[str, StatusCounter]]:
    """The portal's HTTP app on a random loopback port; yields its webhook URL."""
    counter = StatusCounter(create_simulator_app(portal))
    httpd = make_server("127.0.0.1", 0, counter, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/rest/1/testtoken/", counter
    httpd.shutdown()
    thread.join(5)


@pytest.fixture(params=TRANSPORTS)
def client(request: pytest.FixtureRequest, portal: Simulator,
           server: tuple[str, StatusCounter]) -> Iterator[PortalClient]:
    if request.param == "inprocess":
        transport: Any = InProcessTransport(simulator_dispatch(portal))
    else:
        transport = HttpTransport(server[0], timeout=10)
    client = PortalClient(transport)
    yield client
    client.close()


def ids(rows: Iterable[dict[str, Any]], key: str = "ID") -> list[int]:
    return [int(row[key]) for row in rows]


def stored_ids(portal: Simulator, entity_type_id: int, **where: Any) -> list[int]:
    table = crm_tables.crm_items
    query = select(table.c.id).where(table.c.entity_type_id == entity_type_id)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with portal.engine.connect() as conn:
        return [row.id for row in conn.execute(query.order_by(table.c.id))]


# -- lists --------------------------------------------------------------------------------------
def test_list_all_reads_every_page_by_id(client: PortalClient, portal: Simulator) -> None:
    companies = client.list_all("crm.company.list", {"select": ["TITLE"]})
    assert ids(companies) == stored_ids(portal, 4)  # 200: four pages
    assert all(set(row) == {"ID", "TITLE"} for row in companies)
    activities = client.list_all("crm.activity.list", {"select": ["ID"]})
    assert len(activities) == len(set(ids(activities))) > 1000


def test_list_all_keeps_the_caller_s_filter_and_order(client: PortalClient,
                                                       portal: Simulator) -> None:
    filtered = client.list_all("crm.deal.list", {"filter": {"ASSIGNED_BY_ID": 5},
                                                 "select": ["ID", "ASSIGNED_BY_ID"]})
    assert ids(filtered) == stored_ids(portal, 2, assigned_by_id=5)
    newest_first = client.list_all("crm.deal.list", {"order": {"ID": "DESC"}, "select": ["ID"]})
    assert ids(newest_first) == sorted(stored_ids(portal, 2), reverse=True)  # start/next pages


def test_list_all_unwraps_the_newer_methods_lists(client: PortalClient,
                                                  portal: Simulator) -> None:
    items = client.list_all("crm.item.list", {"entityTypeId": 2, "select": ["id", "title"]})
    assert ids(items, "id") == stored_ids(portal, 2)
    tasks = client.list_all("tasks.task.list", {"select": ["ID", "TITLE"]})
    assert len(tasks) == 46 and len(set(ids(tasks, "id"))) == 46


def test_typed_helpers(client: PortalClient) -> None:
    users = client.users()
    assert ids(users) == list(range(1, 13))
    assert all(isinstance(u["ACTIVE"], bool) for u in users)
    assert ids(client.departments()) == [1, 2, 3, 4, 5]
    assert (client.user(3) or {}).get("EMAIL") == "i.belyaeva@demo.portal"
    assert client.user(999_999) is None  # an unknown id
    assert client.is_admin() is True  # the webhook owner


# -- batch --------------------------------------------------------------------------------------
def test_batch_of_more_than_fifty_commands(client: PortalClient, portal: Simulator) -> None:
    company_ids = stored_ids(portal, 4)[:120]
    commands = {f"company_{i}": ("crm.company.get", {"id": i}) for i in company_ids}
    results = client.batch(commands)
    assert list(results) == list(commands)
    assert [int(r["ID"]) for r in results.values()] == company_ids
    as_list = client.batch([("crm.company.get", {"id": i}) for i in company_ids[:60]])
    assert list(as_list) == list(range(60))
    assert as_list[59]["ID"] == str(company_ids[59])


def test_batch_nested_parameters_survive_the_command_string(client: PortalClient) -> None:
    results = client.batch({"sales": ("user.get", {"FILTER": {"UF_DEPARTMENT": 3},
                                                   "sort": "ID", "order": "ASC"}),
                            "deals": ("crm.deal.list", {"filter": {">=ID": 1, "ASSIGNED_BY_ID": 5},
                                                        "select": ["ID", "ASSIGNED_BY_ID"]})})
    assert ids(results["sales"]) == [4, 5, 6, 7]
    assert {row["ASSIGNED_BY_ID"] for row in results["deals"]} == {"5"}


def test_a_failed_batch_command_raises_the_portal_error(client: PortalClient) -> None:
    with pytest.raises(PortalError) as failed:
        client.batch({"ok": ("user.get", {"FILTER": {"ID": 1}}),
                      "missing": ("crm.deal.get", {"id": 999_999})})
    assert (failed.value.code, failed.value.description) == ("", "Not found")


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "params", "code", "status"), [
    ("crm.deal.get", {"id": 999_999}, "", 400),
    ("no.such.method", {}, "ERROR_METHOD_NOT_FOUND", 404),
    ("event.bind", {"event": "ONNOTHING", "handler": "http://x.test/"}, "ERROR_EVENT_NOT_FOUND",
     400),
])
def test_errors_carry_the_portal_s_code_and_status(client: PortalClient, method: str,
                                                   params: dict[str, Any], code: str,
                                                   status: int) -> None:
    with pytest.raises(PortalError) as failed:
        client.call(method, params)
    assert (failed.value.code, failed.value.status) == (code, status)
    assert failed.value.description


def test_both_transports_return_the_same_envelope(portal: Simulator,
                                                  server: tuple[str, StatusCounter]) -> None:
    inprocess = PortalClient(InProcessTransport(simulator_dispatch(portal)))
    http = PortalClient(HttpTransport(server[0]))
    try:
        params = {"filter": {"ASSIGNED_BY_ID": 4}, "select": ["ID", "TITLE", "OPPORTUNITY"]}
        one, other = inprocess.call_raw("crm.deal.list", params), http.call_raw("crm.deal.list",
                                                                              params)
        other.pop("time")
        assert one == other
    finally:
        http.close()


# -- HTTP only: authentication, an unreachable portal, the rate limit ---------------------------
def test_a_wrong_webhook_token_is_the_portal_s_401(server: tuple[str, StatusCounter]) -> None:
    client = PortalClient(HttpTransport(server[0].replace("testtoken", "wrong")))
    try:
        with pytest.raises(PortalError) as failed:
            client.call("profile")
    finally:
        client.close()
    assert (failed.value.code, failed.value.status) == ("NO_AUTH_FOUND", 401)


def test_an_unreachable_portal_is_portal_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import fast_bitrix24.srh

    monkeypatch.setattr(fast_bitrix24.srh, "MAX_RETRIES", 1)  # the library retries 10 times
    client = PortalClient(HttpTransport("http://127.0.0.1:9/rest/1/x/", timeout=2))
    try:
        with pytest.raises(PortalError) as failed:
            client.call("profile")
    finally:
        client.close()
    assert (failed.value.code, failed.value.status, failed.value.transient) == (
        "PORTAL_UNAVAILABLE", 503, True)


@pytest.fixture
def rate_limited(portal: Simulator) -> Iterator[Callable[[int, float], None]]:
    limits = limits_for(portal)

    def configure(x: int, y: float) -> None:
        limits.reset()
        limits.configure(enabled=True, x=x, y=y)

    yield configure
    limits.configure(enabled=False)
    limits.reset()


def test_the_http_client_absorbs_query_limit_exceeded(
        server: tuple[str, StatusCounter], rate_limited: Callable[[int, float], None]) -> None:
    """A client that believes the bucket is larger than it is gets 503s; it retries them."""
    url, counter = server
    rate_limited(5, 10.0)
    client = PortalClient(HttpTransport(url, requests_per_second=50, request_pool_size=50))
    before = counter.statuses[503]
    try:
        results = [client.call("user.get", {"FILTER": {"ID": 1}}) for _ in range(25)]
    finally:
        client.close()
    assert all(r[0]["ID"] == "1" for r in results)
    assert counter.statuses[503] > before  # the portal did refuse some, invisibly


def test_a_client_set_to_the_portal_s_rate_is_never_refused(
        server: tuple[str, StatusCounter], rate_limited: Callable[[int, float], None]) -> None:
    """X=10, Y=4/s: a client throttled to the same bucket never meets a 503 (its share of the
    allowed rate is measured by bench/throttle.py, not asserted here)."""
    url, counter = server
    burst, rate = 10, 4.0
    client = PortalClient(HttpTransport(url, requests_per_second=rate,
                                        request_pool_size=burst))
    rate_limited(burst, rate)
    before = counter.statuses[503]
    try:
        results = [client.call("user.get", {"FILTER": {"ID": 2}}) for _ in range(burst + 8)]
    finally:
        client.close()
    assert all(r[0]["ID"] == "2" for r in results)
    assert counter.statuses[503] == before

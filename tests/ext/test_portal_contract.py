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
from simulator.tasks import tables as tasks_tables
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


def stored_task_ids(portal: Simulator) -> list[int]:
    with portal.engine.connect() as conn:
        return list(conn.scalars(select(tasks_tables.tasks.c.id).order_by(tasks_tables.tasks.c.id)))


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
    assert sorted(ids(tasks, "id")) == stored_task_ids(portal)


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


class Recording:
    """The client's transport, keeping every request (method and parameters)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.max_in_flight = getattr(inner, "max_in_flight", 1)

    def call_raw(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.requests.append((method, params))
        answer: dict[str, Any] = self.inner.call_raw(method, params)
        return answer

    def close(self) -> None:
        self.inner.close()


def recording(client: PortalClient) -> Recording:
    client.transport = spy = Recording(client.transport)
    return spy


def test_run_batch_answers_each_command_with_its_result_error_or_total(
        client: PortalClient, portal: Simulator) -> None:
    answer = client.run_batch({
        "me": ("profile", None),
        "missing": ("crm.deal.get", {"id": 999_999}),
        "deals": ("crm.deal.list", {"filter": {"ASSIGNED_BY_ID": 5}, "select": ["ID"],
                                    "start": 0}),
    })
    assert answer.results["me"]["ID"] == "1"
    assert "missing" not in answer.results
    assert (answer.errors["missing"].code, answer.errors["missing"].description) == (
        "", "Not found")
    assert answer.totals["deals"] == len(stored_ids(portal, 2, assigned_by_id=5))
    assert set(answer.totals) == {"deals"}  # only a list is counted
    with pytest.raises(PortalError):
        answer.raise_first()


def test_run_batch_reads_list_shaped_sections_by_position(client: PortalClient,
                                                          portal: Simulator) -> None:
    """Commands keyed 0..n-1 come back as PHP lists: ``result_error`` is one when the first
    commands fail, ``result`` when none does."""
    company = stored_ids(portal, 4)[0]
    mixed = client.run_batch([("crm.deal.get", {"id": 999_998}),
                              ("crm.deal.get", {"id": 999_999}),
                              ("crm.company.get", {"id": company})])
    assert set(mixed.errors) == {0, 1} and set(mixed.results) == {2}
    assert mixed.results[2]["ID"] == str(company)
    fine = client.run_batch([("crm.company.get", {"id": company}), ("user.get", {})])
    assert set(fine.results) == {0, 1} and fine.errors == {}


def test_run_batch_sends_fifty_commands_a_request(client: PortalClient,
                                                  portal: Simulator) -> None:
    companies = stored_ids(portal, 4)[:120]
    gone = {10, 75, 110}  # one refused command in each request
    spy = recording(client)
    answer = client.run_batch({n: ("crm.company.get", {"id": 999_999 if n in gone else c})
                               for n, c in enumerate(companies)})
    assert [method for method, _ in spy.requests] == ["batch"] * 3
    assert [len(params["cmd"]) for _, params in spy.requests] == [50, 50, 20]
    assert set(answer.errors) == gone
    assert list(answer.results) == [n for n in range(120) if n not in gone]
    assert [int(answer.results[n]["ID"]) for n in (0, 74, 119)] == [
        companies[0], companies[74], companies[119]]


def test_halt_stops_at_the_first_refused_command(client: PortalClient,
                                                 portal: Simulator) -> None:
    companies = stored_ids(portal, 4)[:60]
    commands = [("crm.company.get", {"id": 999_999 if n == 3 else c})
                for n, c in enumerate(companies)]
    spy = recording(client)
    answer = client.run_batch(commands, halt=True)
    assert len(spy.requests) == 1  # the second request is never sent
    assert (set(answer.results), set(answer.errors)) == ({0, 1, 2}, {3})
    with pytest.raises(PortalError) as failed:
        client.batch(commands, halt=True)
    assert failed.value.description == "Not found"


def test_iter_by_id_pages_by_the_fast_path(client: PortalClient, portal: Simulator) -> None:
    """Every activity, in id order: one counted page, then every other page in one batch,
    each asking ``start=-1`` after the last id of the page before."""
    with portal.engine.connect() as conn:
        stored = [row.id for row in conn.execute(
            select(crm_tables.activities.c.id).order_by(crm_tables.activities.c.id))]
    assert len(stored) > 1000
    spy = recording(client)
    rows = list(client.iter_by_id("crm.activity.list", {"select": ["SUBJECT"]}))
    assert ids(rows) == stored
    assert [method for method, _ in spy.requests] == ["crm.activity.list", "batch"]
    first, pages = spy.requests[0][1], spy.requests[1][1]["cmd"]
    assert (first["start"], first["filter"], first["order"]) == (0, {">ID": 0}, {"ID": "ASC"})
    assert len(pages) == -(-(len(stored) - 50) // 50)
    assert all("start=-1" in page and "order[ID]=ASC" in page for page in pages.values())
    assert f"filter[>ID]={stored[49]}&" in pages["p0"]
    assert "filter[>ID]=$result[p0][49][ID]&" in pages["p1"]


def test_iter_by_id_unwraps_rows_and_reads_their_own_id_name(client: PortalClient,
                                                             portal: Simulator) -> None:
    items = list(client.iter_by_id("crm.item.list", {"entityTypeId": 4, "select": ["title"]},
                                   id_field="id", rows_key="items"))
    assert ids(items, "id") == stored_ids(portal, 4)
    tasks = list(client.iter_by_id("tasks.task.list", {"filter": {">=ID": 1}},
                                   rows_key="tasks", row_id="id"))
    assert sorted(ids(tasks, "id")) == stored_task_ids(portal)


class EchoPortal:
    """A portal answering every ``batch`` command with its own key, noting how many requests
    are under way at once; the first ``meet`` requests wait until they are all under way."""

    def __init__(self, meet: int = 0) -> None:
        self.lock = threading.Lock()
        self.under_way = self.most = self.requests = 0
        self.meeting = threading.Barrier(meet, timeout=10) if meet > 1 else None

    def call_raw(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.under_way += 1
            self.requests += 1
            self.most, number = max(self.most, self.under_way), self.requests
        if self.meeting is not None and number <= self.meeting.parties:
            self.meeting.wait()  # BrokenBarrierError if the client sends one at a time
        with self.lock:
            self.under_way -= 1
        return {"result": {"result": {key: key for key in params["cmd"]}, "result_error": []}}

    def close(self) -> None:
        return None


def test_as_many_requests_in_flight_as_the_transport_carries() -> None:
    assert (InProcessTransport.max_in_flight, HttpTransport.max_in_flight) == (1, 2)

    class TwoAtOnce(EchoPortal):
        max_in_flight = 2

    portal = TwoAtOnce(meet=2)
    heartbeats: list[int] = []
    answer = PortalClient(portal).run_batch(
        {f"k{n}": ("user.get", {}) for n in range(130)},
        before_each=lambda: heartbeats.append(portal.requests))
    assert list(answer.results) == [f"k{n}" for n in range(130)]
    assert portal.most == 2 and len(heartbeats) == 3
    one_at_a_time = EchoPortal()  # says nothing: one request at a time
    PortalClient(one_at_a_time).run_batch([("user.get", {})] * 130)
    assert (one_at_a_time.requests, one_at_a_time.most) == (3, 1)


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

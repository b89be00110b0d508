"""The move engine on a bigger client base (bench/handover_workload.py): listing in few
requests, a crash between the portal's write and the journal's, a worker dying while it holds
the batch, items reassigned before the handover reaches them, and the progress figures.

The extension here calls the portal in-process but does not receive its events: the engine
must not depend on them (over REST they may never come)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from bench import handover_workload as wl
from portal_ext import create_app
from portal_ext.extensions import db
from portal_ext.moves import engine
from portal_ext.moves.models import MoveBatch
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import client_for, close_clients, current_portal
from simulator import Simulator
from tests.ext.handover_support import journal, new_batch, run_phase, update_events
from wsgi import simulator_dispatch

OWNER, DEPUTY, OTHER = wl.OWNER, wl.DEPUTY, wl.OTHER


@pytest.fixture
def portal(sim: Simulator) -> Simulator:
    wl.empty_portal(sim)
    return sim


@pytest.fixture
def engine_app(portal: Simulator, ext_database_url: str) -> Iterator[Flask]:
    flask_app = create_app({"TESTING": True, "DATABASE_URL": ext_database_url,
                            "PORTAL_DISPATCH": simulator_dispatch(portal)})
    with flask_app.app_context():
        yield flask_app
        close_clients(flask_app)
        db.session.remove()
        db.engine.dispose()


class CountingTransport:
    """The in-process transport, counting requests by method."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def call_raw(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(method)
        result: dict[str, Any] = self.inner.call_raw(method, params)
        return result

    def close(self) -> None:
        self.inner.close()


def test_a_big_client_base_is_listed_whole_in_a_few_requests(
        engine_app: Flask, portal: Simulator) -> None:
    counts = wl.add_client_base(portal, 6000)
    client = client_for(current_portal())
    counting = CountingTransport(client.transport)
    client.transport = counting
    batch = new_batch(owner=OWNER, to=DEPUTY)
    assert batch.counts == counts
    # Per type the counted first page, then up to 50 chained pages a request: 3,000
    # activities take 1 + 2 requests, 600 deals 1 + 1.
    per_type = {name: -(-(n - 50) // 2500) + 1 if n > 50 else 1 for name, n in counts.items()}
    assert per_type["activity"] == 3
    assert len(counting.calls) == sum(per_type.values()) == 17
    assert set(journal(batch.id)) == set(wl.holders_of(portal, (OWNER,)))


@pytest.mark.parametrize("phase", ["apply", "restore"])
def test_a_crash_between_the_portal_and_the_journal_loses_and_doubles_nothing(
        engine_app: Flask, portal: Simulator, monkeypatch: pytest.MonkeyPatch,
        phase: str) -> None:
    wl.add_client_base(portal, 1200)
    batch = new_batch(owner=OWNER, to=DEPUTY)
    if phase == "restore":
        run_phase(engine_app, batch.id)
    events = update_events(portal)
    client = client_for(current_portal())
    # The process dies right after the portal took the first chunk's writes: the journal is
    # not updated and the batch's lease is never released.
    write, release = engine._Outcomes.write, engine.release

    def die(*_args: Any, **_kwargs: Any) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(engine._Outcomes, "write", die)
    monkeypatch.setattr(engine, "release", lambda *_a: None)
    state = "restoring" if phase == "restore" else "applying"
    engine.start_phase(db.session.get(MoveBatch, batch.id), state)  # type: ignore[arg-type]
    db.session.commit()
    step = engine.restore_chunk if phase == "restore" else engine.apply_chunk
    lease = 60.0
    with pytest.raises(SystemExit):
        step(batch.id, client=client, now=host_utcnow(), size=500, lease_seconds=lease)
    assert len(events) == 500  # the portal has them; the journal does not know
    monkeypatch.setattr(engine._Outcomes, "write", write)
    monkeypatch.setattr(engine, "release", release)

    # A second worker at once: the dead one still holds the batch.
    assert step(batch.id, client=client, now=host_utcnow(), size=500, lease_seconds=lease) == 0
    # A minute later the dead worker's lease has run out and the next one takes over.
    later = engine.host_utcnow() + timedelta(seconds=lease + 1)
    monkeypatch.setattr(engine, "host_utcnow", lambda: later)
    while step(batch.id, client=client, now=host_utcnow(), size=500, lease_seconds=lease):
        pass
    owner, taker = (DEPUTY, OWNER) if phase == "restore" else (OWNER, DEPUTY)
    holders = wl.holders_of(portal)
    rows = journal(batch.id)
    assert {key: holders[key] for key in rows} == dict.fromkeys(rows, taker)
    assert {row.state for row in rows.values()} == {"restored" if phase == "restore"
                                                    else "moved"}
    assert events == dict.fromkeys(rows, 1)  # each item written once, the crash included
    assert owner not in set(holders.values())


def test_items_taken_by_someone_else_before_the_handover_reaches_them_are_skipped(
        engine_app: Flask, portal: Simulator) -> None:
    wl.add_client_base(portal, 300)
    batch = new_batch(owner=OWNER, to=DEPUTY, types=["deal", "company", "activity"])
    deals = sorted(i for t, i in journal(batch.id) if t == "deal")
    activities = sorted(i for t, i in journal(batch.id) if t == "activity")
    # After the preview, before the move: a colleague takes one deal; the head gives another
    # deal and an activity straight to the deputy (that is not the handover's doing).
    portal.call("crm.deal.update", {"id": deals[0], "fields": {"ASSIGNED_BY_ID": OTHER}})
    portal.call("crm.deal.update", {"id": deals[1], "fields": {"ASSIGNED_BY_ID": DEPUTY}})
    portal.call("crm.activity.update", {"id": activities[0],
                                        "fields": {"RESPONSIBLE_ID": DEPUTY}})
    run_phase(engine_app, batch.id)
    rows = journal(batch.id)
    assert rows[("deal", deals[0])].state == "skipped"
    assert rows[("deal", deals[1])].state == "skipped"  # UF_CRM_PREV_RESPONSIBLE is not hers
    # Activities carry no user field: one already with the deputy is taken as moved.
    assert rows[("activity", activities[0])].state == "moved"
    run_phase(engine_app, batch.id, restoring=True)
    holders = wl.holders_of(portal)
    assert (holders[("deal", deals[0])], holders[("deal", deals[1])]) == (OTHER, DEPUTY)
    assert {holders[k] for k, row in journal(batch.id).items() if row.state == "restored"} \
        == {OWNER}


def test_progress_tells_percent_rate_and_time_left(engine_app: Flask, portal: Simulator) -> None:
    wl.add_client_base(portal, 400)
    batch = new_batch(owner=OWNER, to=DEPUTY)
    status = engine.progress(batch)
    assert (status["total"], status["done"], status["percent"]) == (400, 0, 0.0)
    engine.start_phase(batch, "applying")
    db.session.commit()
    client = client_for(current_portal())
    assert engine.apply_chunk(batch.id, client=client, now=host_utcnow(), size=100) == 100
    status = engine.progress(batch)
    assert (status["done"], status["percent"]) == (100, 25.0)
    assert status["rate_per_s"] > 0
    # eta_s is rounded to tenths of a second
    assert status["eta_s"] == pytest.approx(300 / status["rate_per_s"], rel=0.05, abs=0.06)
    assert sum(n for states in status["by_type"].values() for n in states.values()) == 400


def test_a_worker_presumed_dead_stops_writing_when_another_takes_over(
        engine_app: Flask, portal: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    wl.add_client_base(portal, 300)
    batch = new_batch(owner=OWNER, to=DEPUTY, types=["activity"])
    engine.start_phase(batch, "applying")
    db.session.commit()
    events = update_events(portal)
    client = client_for(current_portal())
    renew = engine.renew
    writes = {"requests": 0}

    def slow_worker(batch_id: int, token: str, *, seconds: float) -> None:
        writes["requests"] += 1
        if writes["requests"] == 2:  # this worker stalled; someone else took the batch
            db.session.execute(engine.update(MoveBatch).where(MoveBatch.id == batch_id)
                               .values(lease_token="someone-else"))
            db.session.commit()
        renew(batch_id, token, seconds=seconds)

    monkeypatch.setattr(engine, "renew", slow_worker)
    # A lease so short that the worker renews it before every request of writes.
    assert engine.apply_chunk(batch.id, client=client, now=host_utcnow(), size=300,
                              lease_seconds=0.0) == 0
    assert len(events) == 50  # one batch request of writes went out; then it stopped
    assert {row.state for row in journal(batch.id).values()} == {"planned"}


def test_a_portal_outage_mid_handover_is_shown_and_the_tick_finishes_the_job(
        engine_app: Flask, portal: Simulator) -> None:
    from portal_ext.moves import tasks
    from portal_ext.portal.errors import PortalError

    wl.add_client_base(portal, 300)
    batch = new_batch(owner=OWNER, to=DEPUTY, types=["activity", "contact"])
    engine_app.config["HANDOVER_CHUNK_SIZE"] = 100
    client = client_for(current_portal())
    real = client.transport

    class Outage(CountingTransport):
        def call_raw(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
            if method == "batch" and len(self.calls) >= 6:
                raise PortalError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
            return super().call_raw(method, params)

    client.transport = Outage(real)
    engine.start_phase(batch, "applying")
    db.session.commit()
    done = tasks.apply_batch(batch.id)
    db.session.refresh(batch)
    assert 0 < done < sum(batch.counts.values()) and batch.state == "applying"
    assert batch.error is not None and "QUERY_LIMIT_EXCEEDED" in batch.error
    client.transport = real  # the portal is back; the minute tick resumes the batch
    assert tasks.resume_batches(batch.portal_id) == {"resumed": 1}
    db.session.refresh(batch)
    assert (batch.state, batch.error) == ("applied", None)
    assert {wl.holders_of(portal)[k] for k in journal(batch.id)} == {DEPUTY}


def test_a_refusal_worded_like_not_found_is_a_deletion_only_if_the_item_is_gone(
        engine_app: Flask, portal: Simulator) -> None:
    """Tasks answer "Action on the task is not allowed" both for a deleted task and for a
    refused write: the engine reads the item again before calling it deleted."""
    wl.add_client_base(portal, 0, counts={"task": 3, "deal": 2})
    batch = new_batch(owner=OWNER, to=DEPUTY, types=["task", "deal"])
    gone, refused, fine = sorted(i for t, i in journal(batch.id) if t == "task")
    client = client_for(current_portal())
    answer = {"error": "0", "error_description": "Action on the task is not allowed"}

    class Refusing(CountingTransport):
        """The portal as it answers when ``gone`` is deleted while the batch is under way and
        the write of ``refused`` is turned down."""

        def call_raw(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
            cmd: dict[str, str] = (params.get("cmd") if method == "batch" else None) or {}
            writes = {key: c for key, c in cmd.items()
                      if str(c).startswith("tasks.task.update")}
            targets = {key: c for key, c in writes.items()
                       if f"taskId={gone}&" in c or f"taskId={refused}&" in c}
            if not targets:
                return super().call_raw(method, params)
            portal.call("tasks.task.delete", {"taskId": gone})
            rest = {k: c for k, c in cmd.items() if k not in targets}
            body = super().call_raw(method, {**params, "cmd": rest})
            errors = body["result"]["result_error"]
            body["result"]["result_error"] = {**(errors or {}), **dict.fromkeys(targets, answer)}
            return body

    client.transport = Refusing(client.transport)
    run_phase(engine_app, batch.id)
    rows = journal(batch.id)
    assert rows[("task", gone)].state == "missing"
    assert rows[("task", refused)].state == "failed"
    assert "not allowed" in (rows[("task", refused)].note or "")
    assert rows[("task", fine)].state == "moved"
    assert wl.holders_of(portal)[("task", refused)] == OWNER


def test_the_move_jobs_keep_their_task_names() -> None:
    """Jobs queued under the names the move jobs had before (a broker holding messages across
    an upgrade) still find them, and new ones are queued under the same names."""
    from portal_ext import jobs
    from portal_ext.moves import tasks

    for job, name in ((tasks.apply_batch, "portal_ext.handover.tasks.apply_batch"),
                      (tasks.restore_batch, "portal_ext.handover.tasks.restore_batch")):
        assert jobs.job_name(job) == name
        assert jobs.JOBS[name] is job

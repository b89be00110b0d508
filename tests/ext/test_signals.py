"""After something happens: each signal declared once with what it carries, the directory's
dismissal as a signal, and jobs queued only when the transaction commits."""

from __future__ import annotations

from typing import Any

import pytest
from blinker import NamedSignal
from flask import Flask
from sqlalchemy import select, text

from portal_ext import jobs, signals
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.portal.models import Portal
from simulator import Simulator

NOTE = "tests.ext.test_signals.note"


def test_every_signal_says_who_sends_it_with_what_and_when() -> None:
    declared = {name: value for name, value in vars(signals).items()
                if isinstance(value, NamedSignal)}
    assert set(declared) == set(signals.__all__)
    for name, signal in declared.items():
        assert all(part in (signal.__doc__ or "") for part in ("Sender:", "Arguments:", "When:")
                   ), name


def test_the_directory_tells_of_a_dismissal_once(app: Flask, demo_sim: Simulator) -> None:
    heard: list[tuple[Any, int, str]] = []

    def receiver(portal: Portal, *, user: PortalUser, now: Any, source: str) -> None:
        heard.append((portal.id, user.portal_user_id, source))

    with signals.user_dismissed.connected_to(receiver):
        demo_sim.call("user.update", {"ID": 7, "ACTIVE": "N"})
        demo_sim.call("user.update", {"ID": 7, "NAME": "Still dismissed"})
    with app.app_context():
        portal_id = db.session.scalars(select(Portal.id)).one()
    assert heard == [(portal_id, 7, "event")]


@pytest.fixture
def noted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A job that notes its argument (the inline runner runs it at once)."""
    calls: list[int] = []
    monkeypatch.setitem(jobs.JOBS, NOTE, calls.append)
    return calls


def test_a_job_asked_for_runs_once_after_the_commit(app: Flask, noted: list[int]) -> None:
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        jobs.enqueue_after_commit(NOTE, 1)
        jobs.enqueue_after_commit(NOTE, 1)
        jobs.enqueue_after_commit(NOTE, 2)
        assert noted == []
        db.session.commit()
        assert noted == [1, 2]
        db.session.commit()
    assert noted == [1, 2]


def test_a_rolled_back_transaction_queues_nothing(app: Flask, noted: list[int]) -> None:
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        jobs.enqueue_after_commit(NOTE, 1)
        db.session.rollback()
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    assert noted == []


def test_only_a_registered_job_can_be_asked_for(app: Flask) -> None:
    with app.app_context(), pytest.raises(KeyError):
        jobs.enqueue_after_commit("tests.ext.test_signals.nothing", 1)

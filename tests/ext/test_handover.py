"""Handing Nikitina's client base to her deputy Fedorov and back, on the demo portal, through
the API as an administrator would script it: every kind of item, the previous responsible
shown on the portal, third parties' changes left alone, deleted items reported, undo, bad
input refused with nothing changed, and the level-triggered restore when the absence ends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal_ext.absences.models import Absence
from portal_ext.extensions import db
from portal_ext.handover.tasks import handover_tick
from portal_ext.moves.models import MoveBatch
from simulator import Simulator
from tests.ext.absences_support import (
    ADMIN,
    FEDOROV,
    GRIGORIEVA,
    LIFT_HEAD,
    NIKITINA,
    SMIRNOVA,
    TORG_HEAD,
    freeze,
    token,
)
from tests.ext.handover_support import (
    holders,
    journal,
    owned_by,
    prev_responsible,
    record_absence,
    update_events,
)

pytestmark = pytest.mark.dated


@pytest.fixture(autouse=True)
def _english_portal(app: Flask) -> None:
    """These tests read the copies' and summaries' English wording: an English portal."""
    app.config["PORTAL_LANGUAGE"] = "en"


ALL_TYPES = ["lead", "deal", "contact", "company", "quote", "smart_invoice", "activity", "task"]
CRM_WITH_FIELD = {"lead", "deal", "contact", "company", "quote"}


@pytest.fixture
def absence_id(app: Flask, t0: datetime) -> int:
    return record_absence(app, user=NIKITINA, deputy=FEDOROV, start=t0 - timedelta(hours=1),
                          end=t0 + timedelta(days=7))


def preview(client: FlaskClient, auth: dict[str, str], absence_id: int, **body: Any) -> Any:
    return client.post("/api/v1/handovers", headers=auth,
                       json={"absence_id": absence_id, **body})


def handover(client: FlaskClient, auth: dict[str, str], absence_id: int, **body: Any
             ) -> dict[str, Any]:
    answer = preview(client, auth, absence_id, **body)
    assert answer.status_code == 201, answer.get_json()
    applied = client.post(f"/api/v1/handovers/{answer.get_json()['id']}/apply", headers=auth)
    assert applied.status_code == 202, applied.get_json()
    state: dict[str, Any] = client.get(f"/api/v1/handovers/{answer.get_json()['id']}",
                                       headers=auth).get_json()
    return state


def restore(client: FlaskClient, auth: dict[str, str], batch_id: int) -> dict[str, Any]:
    answer = client.post(f"/api/v1/handovers/{batch_id}/restore", headers=auth)
    assert answer.status_code == 202, answer.get_json()
    state: dict[str, Any] = client.get(f"/api/v1/handovers/{batch_id}", headers=auth).get_json()
    return state


def notices(sim: Simulator, user_id: int, containing: str) -> list[str]:
    from simulator.im import tables as im_tables

    with sim.engine.connect() as conn:
        rows = conn.execute(select(im_tables.notifications.c.message).where(
            im_tables.notifications.c.user_id == user_id)).scalars()
        return [m for m in rows if containing in m]


def count_by_type(keys: set[tuple[str, int]]) -> dict[str, int]:
    out = dict.fromkeys(ALL_TYPES, 0)
    for kind, _id in keys:
        out[kind] += 1
    return out


def test_every_kind_goes_to_the_deputy_and_comes_back_exactly(
        app: Flask, client: FlaskClient, demo_sim: Simulator, absence_id: int,
        admin: dict[str, str]) -> None:
    before = holders(demo_sim)
    hers = owned_by(demo_sim, NIKITINA)
    assert set(count_by_type(hers).values()) != {0}

    answer = preview(client, admin, absence_id, types=ALL_TYPES, include_closed=True)
    assert answer.status_code == 201, answer.get_json()
    shown = answer.get_json()
    # The preview counts what the portal holds, per type, and changed nothing yet.
    assert {t: row["planned"] for t, row in shown["counts"].items()} == count_by_type(hers)
    assert all(len(shown["sample"][t]) == min(5, n) for t, n in count_by_type(hers).items())
    assert shown["sample"]["deal"][0]["link"].startswith("http://")
    assert holders(demo_sim) == before

    events = update_events(demo_sim)
    assert client.post(f"/api/v1/handovers/{shown['id']}/apply", headers=admin).status_code == 202
    state = client.get(f"/api/v1/handovers/{shown['id']}", headers=admin).get_json()
    assert state["state"] == "applied"
    assert state["progress"]["percent"] == 100.0
    assert state["progress"]["done"] == state["progress"]["total"] == len(hers)
    after = holders(demo_sim)
    assert {k for k in hers if after[k] == FEDOROV} == hers
    assert {k: v for k, v in after.items() if k not in hers} == \
        {k: v for k, v in before.items() if k not in hers}
    assert events == dict.fromkeys(hers, 1)  # one write per item, no more
    # The portal shows who had the item: UF_CRM_PREV_RESPONSIBLE (created over REST).
    shown_prev = prev_responsible(demo_sim)
    assert {shown_prev[k] for k in hers if k[0] in CRM_WITH_FIELD} == {NIKITINA}

    state = restore(client, admin, shown["id"])
    assert state["state"] == "restored"
    assert holders(demo_sim) == before
    # One notice each for the whole handover, not one per item (params.REGISTER_SONET_EVENT).
    (summary,) = notices(demo_sim, FEDOROV, "items are yours until")
    assert summary.startswith(f"{len(hers)} of Ольга Никитина's items are yours until ")
    assert summary.endswith(f"(handover {shown['id']}).")
    assert len(notices(demo_sim, NIKITINA, "of your items are with you again")) == 1
    assert len(notices(demo_sim, FEDOROV, "items went back to them")) == 1
    cleared = prev_responsible(demo_sim)
    assert {cleared[k] for k in hers if k[0] in CRM_WITH_FIELD} == {None}
    assert {t: (r["moved"], r["restored"], r["conflicts"]) for t, r in state["counts"].items()} \
        == {t: (n, n, 0) for t, n in count_by_type(hers).items()}


def test_open_items_only_leave_closed_ones_with_the_owner(
        app: Flask, client: FlaskClient, demo_sim: Simulator, absence_id: int,
        admin: dict[str, str]) -> None:
    closed = {(kind, i) for kind, i in owned_by(demo_sim, NIKITINA)
              if kind in ("deal", "activity")}
    state = handover(client, admin, absence_id, types=["deal", "activity"])
    now = holders(demo_sim)
    moved = {k for k in closed if now[k] == FEDOROV}
    stayed = closed - moved
    assert moved and stayed  # the demo portal has both open and closed deals and activities
    with app.app_context():
        rows = journal(state["id"])
    assert set(rows) == moved


def test_someone_elses_changes_during_the_absence_are_reported_not_clobbered(
        app: Flask, client: FlaskClient, demo_sim: Simulator, absence_id: int,
        admin: dict[str, str]) -> None:
    state = handover(client, admin, absence_id, types=ALL_TYPES, include_closed=True)
    hers = {k for k, row in _journal_keys(app, state["id"]).items()}
    deal, contact, activity, task = (sorted(k for k in hers if k[0] == t)[0]
                                     for t in ("deal", "contact", "activity", "task"))
    lead = sorted(k for k in hers if k[0] == "lead")[0]
    # During the absence, the head gives some of the deputy's new items to Smirnova...
    demo_sim.call("crm.deal.update", {"id": deal[1], "fields": {"ASSIGNED_BY_ID": SMIRNOVA}})
    demo_sim.call("crm.contact.update", {"id": contact[1],
                                         "fields": {"ASSIGNED_BY_ID": GRIGORIEVA}})
    demo_sim.call("crm.activity.update", {"id": activity[1],
                                          "fields": {"RESPONSIBLE_ID": SMIRNOVA}})
    demo_sim.call("tasks.task.update", {"taskId": task[1],
                                        "fields": {"RESPONSIBLE_ID": SMIRNOVA}})
    # ... and someone deletes a lead.
    demo_sim.call("crm.lead.delete", {"id": lead[1]})
    before_restore = holders(demo_sim)

    state = restore(client, admin, state["id"])
    after = holders(demo_sim)
    assert after[deal] == SMIRNOVA and after[contact] == GRIGORIEVA
    assert after[activity] == SMIRNOVA and after[task] == SMIRNOVA
    assert lead not in after
    untouched = hers - {deal, contact, activity, task, lead}
    untouched_now = {k for k in untouched if k in before_restore}  # the lead's activities go
    assert {after[k] for k in untouched_now} == {NIKITINA}
    problems = {(p["entity_type"], p["entity_id"]): p for p in state["problems"]}
    assert {k: p["state"] for k, p in problems.items()} == {
        deal: "conflict", contact: "conflict", activity: "conflict", task: "conflict",
        lead: "missing", **{k: "missing" for k in untouched - untouched_now}}
    assert problems[deal]["why"].startswith("now with ")
    assert problems[deal]["link"].endswith(f"/deals/{deal[1]}")
    assert state["counts"]["deal"]["conflicts"] == 1
    assert state["counts"]["lead"]["missing"] == 1


def _journal_keys(app: Flask, batch_id: int) -> dict[tuple[str, int], Any]:
    with app.app_context():
        return journal(batch_id)


def test_undo_in_the_middle_of_a_handover_restores_exactly(
        app: Flask, client: FlaskClient, demo_sim: Simulator, absence_id: int,
        admin: dict[str, str]) -> None:
    from portal_ext.moves import engine
    from portal_ext.portal.clock import host_utcnow
    from portal_ext.portal.registration import client_for, current_portal

    before = holders(demo_sim)
    shown = preview(client, admin, absence_id, types=ALL_TYPES, include_closed=True).get_json()
    with app.app_context():
        batch = db.session.get(MoveBatch, shown["id"])
        assert batch is not None
        engine.start_phase(batch, "applying")
        batch.state = "applying"
        db.session.commit()
        portal_client = client_for(current_portal())
        assert engine.apply_chunk(batch.id, client=portal_client, now=host_utcnow(),
                                  size=120) == 120
        status = engine.progress(batch)
    assert (status["done"], status["state"]) == (120, "applying")
    assert status["rate_per_s"] is not None and status["eta_s"] is not None
    state = restore(client, admin, shown["id"])
    assert holders(demo_sim) == before
    assert state["totals"]["restored"] == 120
    assert state["totals"]["skipped"] == shown["totals"]["planned"] - 120


def test_bad_requests_get_a_clear_error_and_change_nothing(
        app: Flask, client: FlaskClient, demo_sim: Simulator, absence_id: int, t0: datetime,
        admin: dict[str, str]) -> None:
    before = holders(demo_sim)
    with app.app_context():
        # Imported from the portal's chart: one names the user as her own deputy, one a user
        # the portal does not know.
        rows = [Absence(portal_id=1, user_id=SMIRNOVA, deputy_id=SMIRNOVA, start=t0,
                        end=t0 + timedelta(days=3), recorded_at=t0, updated_at=t0),
                Absence(portal_id=1, user_id=999, deputy_id=FEDOROV, start=t0,
                        end=t0 + timedelta(days=3), recorded_at=t0, updated_at=t0)]
        db.session.add_all(rows)
        db.session.commit()
        self_deputy, stranger = rows[0].id, rows[1].id

    def refused(body: dict[str, Any], status: int, code: str, field: str | None) -> None:
        answer = client.post("/api/v1/handovers", headers=admin, json=body)
        assert (answer.status_code, answer.get_json()["error"]["code"],
                answer.get_json()["error"]["field"]) == (status, code, field), answer.get_json()

    refused({"absence_id": 424242}, 404, "not_found", "absence_id")
    refused({"absence_id": "one"}, 422, "validation", "absence_id")
    refused({"absence_id": stranger}, 422, "validation", "user_id")
    refused({"absence_id": self_deputy}, 422, "validation", "deputy_id")
    refused({"absence_id": absence_id, "types": []}, 422, "validation", "types")
    refused({"absence_id": absence_id, "types": ["deal", "invoice"]}, 422, "validation", "types")
    refused({"absence_id": absence_id, "include_closed": "yes"}, 422, "validation",
            "include_closed")
    refused({"absence_id": absence_id, "deputy_id": 7}, 400, "unknown_parameter", "deputy_id")
    # Volkova (marketing) has tasks but no deals: an empty selection.
    no_deals = record_absence(app, user=11, deputy=FEDOROV, start=t0, end=t0 + timedelta(days=3))
    refused({"absence_id": no_deals, "types": ["deal"]}, 422, "validation", "types")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MoveBatch)) == 0
    assert holders(demo_sim) == before

    first = preview(client, admin, absence_id, types=["deal"])
    assert first.status_code == 201
    refused({"absence_id": absence_id, "types": ["deal"]}, 409, "conflict", "absence_id")
    batch_id = first.get_json()["id"]
    assert client.post(f"/api/v1/handovers/{batch_id}/apply", headers=admin).status_code == 202
    moved = holders(demo_sim)
    again = client.post(f"/api/v1/handovers/{batch_id}/apply", headers=admin)
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "conflict")
    assert holders(demo_sim) == moved != before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MoveBatch)) == 1


def test_only_an_admin_or_the_users_head_may_hand_over(
        app: Flask, client: FlaskClient, absence_id: int, admin: dict[str, str]) -> None:
    other_head = client.post("/api/v1/handovers", headers=token(app, LIFT_HEAD),
                             json={"absence_id": absence_id})
    assert (other_head.status_code, other_head.get_json()["error"]["code"]) == (403, "forbidden")
    employee = client.post("/api/v1/handovers", headers=token(app, FEDOROV),
                           json={"absence_id": absence_id})
    assert employee.status_code == 403
    own_head = client.post("/api/v1/handovers", headers=token(app, TORG_HEAD),
                           json={"absence_id": absence_id, "types": ["company"]})
    assert own_head.status_code == 201, own_head.get_json()
    seen = client.get(f"/api/v1/handovers/{own_head.get_json()['id']}",
                      headers=token(app, LIFT_HEAD))
    assert seen.status_code == 403


def test_the_end_of_the_absence_brings_everything_back_even_after_an_outage(
        app: Flask, client: FlaskClient, demo_sim: Simulator, absence_id: int, t0: datetime,
        admin: dict[str, str]) -> None:
    before = holders(demo_sim)
    state = handover(client, admin, absence_id, types=["deal", "company", "task"])
    with app.app_context():
        handover_tick()  # the absence is still running: nothing comes back
    assert holders(demo_sim) != before
    # The service was down when the absence ended; the first tick a day later catches up.
    freeze(client, t0 + timedelta(days=8))
    with app.app_context():
        handover_tick()
    assert holders(demo_sim) == before
    done = client.get(f"/api/v1/handovers/{state['id']}", headers=admin).get_json()
    assert done["state"] == "restored"


def test_new_leads_for_her_clients_come_back_too_when_asked(
        app: Flask, client: FlaskClient, demo_sim: Simulator, absence_id: int,
        admin: dict[str, str]) -> None:
    state = handover(client, admin, absence_id, types=["company", "contact", "deal"],
                     include_new_leads=True)
    company = sorted(k for k in _journal_keys(app, state["id"]) if k[0] == "company")[0]
    # During the absence a lead for her client arrives and goes to the deputy; another lead,
    # for a client of someone else, goes to the deputy too.
    theirs = demo_sim.call("crm.lead.add", {"fields": {
        "TITLE": "Request from a known client", "ASSIGNED_BY_ID": FEDOROV,
        "COMPANY_ID": company[1]}})["result"]
    foreign = sorted(k for k, v in holders(demo_sim).items()
                     if k[0] == "company" and v == SMIRNOVA)[0]
    unrelated = demo_sim.call("crm.lead.add", {"fields": {
        "TITLE": "Someone else's client", "ASSIGNED_BY_ID": FEDOROV,
        "COMPANY_ID": foreign[1]}})["result"]
    state = restore(client, admin, state["id"])
    now = holders(demo_sim)
    assert now[("lead", int(theirs))] == NIKITINA
    assert now[("lead", int(unrelated))] == FEDOROV
    assert state["counts"]["lead"]["restored"] == 1


def test_the_policy_hands_over_by_itself_when_an_absence_starts(
        app: Flask, client: FlaskClient, demo_sim: Simulator, t0: datetime) -> None:
    from portal_ext.context import for_job
    from portal_ext.handover.policy import save_policy
    from portal_ext.portal.registration import current_portal

    with app.app_context():
        admin = for_job(current_portal().id, actor_id=ADMIN)
        assert admin is not None
        save_policy(portal=admin.portal, actor=admin.actor, enabled=True,
                    types=["deal", "company"], include_closed=False, include_new_leads=False,
                    min_days=3, now=t0)
    short = record_absence(app, user=SMIRNOVA, deputy=FEDOROV, start=t0 + timedelta(days=1),
                           end=t0 + timedelta(days=2))
    long = record_absence(app, user=NIKITINA, deputy=FEDOROV, start=t0 + timedelta(days=1),
                          end=t0 + timedelta(days=10))
    before = holders(demo_sim)
    with app.app_context():
        handover_tick()
    assert holders(demo_sim) == before  # neither has started
    freeze(client, t0 + timedelta(days=1, hours=1))
    with app.app_context():
        handover_tick()
        batches = list(db.session.scalars(select(MoveBatch)))
    assert [(b.absence_id, b.state, b.created_by) for b in batches] == [(long, "applied", None)]
    assert short not in {b.absence_id for b in batches}
    moved = {k for k, v in holders(demo_sim).items() if v != before[k]}
    assert moved and {k[0] for k in moved} <= {"deal", "company"}

"""Recording absences through the API: what is stored and shown, every validation rule (a
clear message naming the field, nothing saved), and who may change whose absence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.absences.services import cover_for
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.portal.registration import current_portal
from tests.ext.absences_support import (
    ADMIN,
    FEDOROV,
    GRIGORIEVA,
    LIFT_HEAD,
    NIKITINA,
    SMIRNOVA,
    TORG_HEAD,
    iso,
    stored_state,
    token,
)
from tests.ext.conftest import Day


def post(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/absences", json=body, headers=headers)


def test_an_employee_records_their_own_absence_and_sees_it_in_portal_time(
        app: Flask, client: FlaskClient, t0: Any, day: Day) -> None:
    me = token(app, FEDOROV)
    answer: Any = post(client, me, start=day(35), end=day(46), kind="vacation",
                  deputy_id=GRIGORIEVA, note="Skiing")
    assert answer.status_code == 201, answer.json
    body = answer.json
    assert body["user_id"] == FEDOROV and body["deputy_id"] == GRIGORIEVA
    # Whole days in Moscow: from midnight of the first day to midnight after the last one.
    assert body["start"] == f"{day(35)}T00:00:00+03:00"
    assert body["end"] == f"{day(47)}T00:00:00+03:00"
    assert body["last_day"] == day(46)
    assert body["state"] == "planned" and body["source"] == "manual"
    assert body["recorded_by_id"] == FEDOROV
    assert answer.headers["Location"].endswith(f"/api/v1/absences/{body['id']}")
    listed: Any = client.get("/api/v1/absences", query_string={"user": FEDOROV}, headers=me).json
    assert [a["id"] for a in listed["items"]] == [body["id"]]
    assert listed["items"][0]["note"] == "Skiing"
    # Someone who may not edit it sees the absence, not the note.
    other: Any = client.get(f"/api/v1/absences/{body['id']}", headers=token(app, SMIRNOVA)).json
    assert other["deputy_name"] and other["note"] is None


def test_an_absence_without_offset_is_portal_time_and_active_at_once(
        app: Flask, client: FlaskClient, t0: Any) -> None:
    start_local = (t0 + timedelta(hours=3) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    answer: Any = post(client, token(app, FEDOROV), start=start_local,
                  end=iso(t0 + timedelta(days=2)), deputy_id=GRIGORIEVA)
    assert answer.status_code == 201, answer.json
    assert answer.json["start"] == start_local + "+03:00"
    assert answer.json["state"] == "active"
    with app.app_context():
        cover = cover_for(portal_id=current_portal().id, user_id=FEDOROV, at=t0)
        assert cover is not None and (cover.user_id, cover.reason) == (GRIGORIEVA, "deputy")
        assert cover_for(portal_id=current_portal().id, user_id=GRIGORIEVA, at=t0) is None


def _dismiss(app: Flask, user_id: int) -> None:
    with app.app_context():
        user = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_user_id == user_id)).one()
        user.active = False
        db.session.commit()


# Days are offsets from the demo's today.
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("end before start", {"start": 65, "end": 56}, "end", "end after"),
    ("same user overlaps", {"start": 44, "end": 49}, "start",
     "already away"),
    ("deputy is the user", {"deputy_id": FEDOROV}, "deputy_id", "own deputy"),
    ("unknown deputy", {"deputy_id": 999}, "deputy_id", "no such user"),
    ("dismissed deputy", {"deputy_id": SMIRNOVA}, "deputy_id", "dismissed"),
    ("deputy away throughout, nobody to pass on",
     {"start": 85, "end": 88, "deputy_id": GRIGORIEVA}, "deputy_id",
     "no deputy to pass it on"),
    ("start centuries ago", {"start": -36500, "end": -36496}, "start", "year ago"),
    ("end far ahead", {"start": 72000, "end": 72004}, "end", "two years"),
    ("longer than a year", {"start": 25, "end": 542}, "end", "at most a year"),
    ("unknown kind", {"kind": "sabbatical"}, "kind", "vacation, sick leave"),
    ("not a date", {"start": "next Monday"}, "start", "ISO 8601"),
    ("user id as text", {"user_id": "6"}, "user_id", "portal user id"),
]


@pytest.mark.parametrize(("case", "change", "field", "words"), INVALID,
                         ids=[case[0] for case in INVALID])
def test_invalid_absence_is_rejected_naming_the_field_and_nothing_is_saved(
        app: Flask, client: FlaskClient, t0: Any, case: str, change: dict[str, Any],
        field: str, words: str, day: Day) -> None:
    admin = token(app, ADMIN)
    # Fedorov is away on days 42-49; Grigorieva on days 84-93 without anyone to pass on to.
    assert post(client, admin, user_id=FEDOROV, start=day(42),
                end=day(49)).status_code == 201
    assert post(client, admin, user_id=GRIGORIEVA, start=day(84),
                end=day(93)).status_code == 201
    _dismiss(app, SMIRNOVA)
    before = stored_state(app)
    body = {"user_id": FEDOROV, "start": day(56), "end": day(65), "kind": "vacation",
            **{k: day(v) if k in ("start", "end") and isinstance(v, int) else v
               for k, v in change.items()}}
    answer: Any = post(client, admin, **body)
    assert answer.status_code == 422, answer.json
    error = answer.json["error"]
    assert (error["code"], error["field"]) == ("validation", field)
    assert words in error["message"]
    assert stored_state(app) == before


def test_a_deputy_away_throughout_is_fine_when_their_deputy_carries_it_on(
        app: Flask, client: FlaskClient, t0: Any, day: Day) -> None:
    admin = token(app, ADMIN)
    assert post(client, admin, user_id=GRIGORIEVA, start=day(84), end=day(93),
                deputy_id=NIKITINA).status_code == 201
    answer: Any = post(client, admin, user_id=FEDOROV, start=day(85), end=day(88),
                  deputy_id=GRIGORIEVA)
    assert answer.status_code == 201, answer.json


def test_unknown_body_field_is_400_and_saves_nothing(app: Flask, client: FlaskClient,
                                                      t0: Any, day: Day) -> None:
    before = stored_state(app)
    answer: Any = post(client, token(app, FEDOROV), start=day(35), end=day(36),
                  deputee=GRIGORIEVA)
    assert answer.status_code == 400
    assert answer.json["error"]["field"] == "deputee"
    assert stored_state(app) == before


def test_an_employee_cannot_record_change_or_delete_someone_elses_absence(
        app: Flask, client: FlaskClient, t0: Any, day: Day) -> None:
    nikitina = token(app, NIKITINA)
    before = stored_state(app)
    answer: Any = post(client, nikitina, user_id=FEDOROV, start=day(35), end=day(36))
    assert answer.status_code == 403
    assert answer.json["error"]["code"] == "forbidden"
    assert stored_state(app) == before
    created: Any = post(client, token(app, FEDOROV), start=day(35), end=day(36)).json
    path = f"/api/v1/absences/{created['id']}"
    assert client.patch(path, json={"note": "mine now"}, headers=nikitina).status_code == 403
    assert client.delete(path, headers=nikitina).status_code == 403
    still: Any = client.get(path, headers=token(app, FEDOROV)).json
    assert still["note"] == ""


def test_a_head_manages_their_people_but_not_another_department(
        app: Flask, client: FlaskClient, t0: Any, day: Day) -> None:
    # Morozov heads Torg-Koms (Fedorov's department); Pavlov heads TK-Lift.
    answer: Any = post(client, token(app, TORG_HEAD), user_id=FEDOROV, start=day(35),
                  end=day(36), deputy_id=GRIGORIEVA)
    assert answer.status_code == 201
    assert answer.json["recorded_by_id"] == TORG_HEAD
    assert post(client, token(app, LIFT_HEAD), user_id=FEDOROV, start=day(66),
                end=day(67)).status_code == 403
    path = f"/api/v1/absences/{answer.json['id']}"
    assert client.patch(path, json={"kind": "business_trip"},
                        headers=token(app, LIFT_HEAD)).status_code == 403
    changed: Any = client.patch(path, json={"kind": "business_trip", "end": day(38)},
                           headers=token(app, ADMIN))
    assert changed.status_code == 200, changed.json
    assert (changed.json["kind"], changed.json["last_day"]) == ("business_trip", day(38))


def test_patch_is_validated_like_a_new_absence_and_delete_removes_it(
        app: Flask, client: FlaskClient, t0: Any, day: Day) -> None:
    me = token(app, FEDOROV)
    created: Any = post(client, me, start=day(35), end=day(36)).json
    path = f"/api/v1/absences/{created['id']}"
    rejected: Any = client.patch(path, json={"end": day(25)}, headers=me)
    assert rejected.status_code == 422 and rejected.json["error"]["field"] == "end"
    unchanged: Any = client.get(path, headers=me)
    assert unchanged.json["last_day"] == day(36)
    assert client.delete(path, headers=me).status_code == 204
    assert client.get(path, headers=me).status_code == 404


def test_list_filters_by_state_and_period(app: Flask, client: FlaskClient, t0: Any) -> None:
    admin = token(app, ADMIN)
    now_id: Any = post(client, admin, user_id=FEDOROV, start=iso(t0 - timedelta(days=1)),
                  end=iso(t0 + timedelta(days=1))).json["id"]
    later_id: Any = post(client, admin, user_id=GRIGORIEVA, start=iso(t0 + timedelta(days=30)),
                    end=iso(t0 + timedelta(days=35))).json["id"]
    active: Any = client.get("/api/v1/absences", query_string={"state": "active"},
                        headers=admin).json
    assert [a["id"] for a in active["items"]] == [now_id]
    window = {"from": (t0 + timedelta(days=29)).date().isoformat()}
    later: Any = client.get("/api/v1/absences", query_string=window, headers=admin)
    assert [a["id"] for a in later.json["items"]] == [later_id]
    bad: Any = client.get("/api/v1/absences", query_string={"from": "soon"}, headers=admin)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "from"


def test_standing_deputy_covers_when_an_absence_names_none(app: Flask, client: FlaskClient,
                                                           t0: Any) -> None:
    me = token(app, FEDOROV)
    assert client.put(f"/api/v1/deputies/{FEDOROV}", json={"deputy_id": NIKITINA},
                      headers=token(app, SMIRNOVA)).status_code == 403
    self_deputy: Any = client.put(f"/api/v1/deputies/{FEDOROV}", json={"deputy_id": FEDOROV},
                             headers=me)
    assert self_deputy.status_code == 422 and self_deputy.json["error"]["field"] == "deputy_id"
    answer: Any = client.put(f"/api/v1/deputies/{FEDOROV}", json={"deputy_id": NIKITINA},
                        headers=me)
    assert answer.status_code == 200 and answer.json["deputy_id"] == NIKITINA
    listed: Any = client.get("/api/v1/deputies", headers=token(app, SMIRNOVA)).json
    assert [(d["user_id"], d["deputy_id"]) for d in listed["items"]] == [(FEDOROV, NIKITINA)]
    post(client, me, start=iso(t0 - timedelta(hours=1)), end=iso(t0 + timedelta(days=1)))
    with app.app_context():
        cover = cover_for(portal_id=current_portal().id, user_id=FEDOROV, at=t0)
        assert cover is not None and cover.user_id == NIKITINA
    assert client.delete(f"/api/v1/deputies/{FEDOROV}", headers=me).status_code == 204
    with app.app_context():
        # No standing deputy any more: the head of Torg-Koms covers.
        cover = cover_for(portal_id=current_portal().id, user_id=FEDOROV, at=t0)
        assert cover is not None and (cover.user_id, cover.reason) == (TORG_HEAD, "head")

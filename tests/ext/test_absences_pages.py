"""The absence pages as a person uses them: the department calendar, the form (messages by
the field, nothing saved), "my absences", standing deputies, and who may do what (403)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.clock import TestClock
from tests.ext.absences_support import (
    ADMIN,
    EMAILS,
    FEDOROV,
    GRIGORIEVA,
    NIKITINA,
    TORG_HEAD,
    absences,
    iso,
    stored_state,
    token,
)
from tests.ext.confirm_support import confirmed
from tests.ext.conftest import Day
from tests.ext.oauth_login import LoginAs


def form(user: int, first: date, last: date, **extra: object) -> dict[str, object]:
    return {"user_id": user, "start": first.isoformat(), "end": last.isoformat(),
            "kind": "vacation", "deputy_id": GRIGORIEVA, "note": "", **extra}


def next_month(t0: datetime) -> date:
    return (t0.date().replace(day=1) + timedelta(days=32)).replace(day=1)


def test_an_employee_records_an_absence_with_the_form(
        app: Flask, client: FlaskClient, login_as: LoginAs, t0: datetime, day: Day) -> None:
    login_as(client, EMAILS[FEDOROV])
    page: Any = client.get("/absences/new").get_data(as_text=True)
    # An employee records only their own absences; anyone active may be the deputy.
    users = page.split('name="user_id"')[1].split("</select>")[0]
    deputies = page.split('name="deputy_id"')[1].split("</select>")[0]
    assert re.findall(r'value="(\d+)"', users) == [str(FEDOROV)]
    assert f'value="{NIKITINA}"' in deputies
    first = next_month(t0) + timedelta(days=2)
    answer: Any = client.post("/absences/new", data=form(FEDOROV, first, first + timedelta(days=4),
                                                     temporary_access="y"))
    assert answer.status_code == 302
    [row] = absences(app)
    assert (row["user_id"], row["deputy_id"], row["kind"]) == (FEDOROV, GRIGORIEVA, "vacation")
    mine: Any = client.get("/absences/mine").get_data(as_text=True)
    assert f'id="absence-{row["id"]}"' in mine
    assert "Мария Григорьева" in mine


@pytest.mark.parametrize(("change", "field", "words"), [  # days: offsets from the demo's today
    ({"end": 25, "start": 34}, "end", "must end after it starts"),
    ({"deputy_id": FEDOROV}, "deputy_id", "their own deputy"),
    ({"start": "", "end": 34}, "start", "Give the first day"),
])
def test_a_rejected_form_shows_the_message_by_the_field_and_saves_nothing(
        app: Flask, client: FlaskClient, login_as: LoginAs, t0: datetime,
        change: dict[str, object], field: str, words: str, day: Day) -> None:
    change = {k: day(v) if k in ("start", "end") and isinstance(v, int) else v
              for k, v in change.items()}
    login_as(client, EMAILS[FEDOROV])
    before = stored_state(app)
    first = next_month(t0)
    answer: Any = client.post("/absences/new", data={**form(FEDOROV, first, first), **change})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    errors = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', html, re.S)
    assert errors is not None and words in errors.group(1)
    assert stored_state(app) == before


def test_an_employee_gets_403_for_someone_elses_absence(
        app: Flask, client: FlaskClient, login_as: LoginAs, t0: datetime, day: Day) -> None:
    answer: Any = client.post("/api/v1/absences", headers=token(app, FEDOROV),
                         json={"start": day(35), "end": day(36)})
    absence_id = answer.json["id"]
    login_as(client, EMAILS[NIKITINA])
    before = stored_state(app)
    first = next_month(t0)
    assert client.post("/absences/new", data=form(FEDOROV, first, first)).status_code == 403
    assert client.get(f"/absences/{absence_id}/edit").status_code == 403
    assert client.post(f"/absences/{absence_id}/edit",
                       data=form(FEDOROV, first, first)).status_code == 403
    assert client.post(f"/absences/{absence_id}/delete").status_code == 403
    assert client.get(f"/absences/{absence_id}/cover").status_code == 403
    assert stored_state(app) == before


def test_a_head_edits_their_persons_absence_and_deletes_it(
        app: Flask, client: FlaskClient, login_as: LoginAs, t0: datetime, day: Day,
        test_clock: TestClock) -> None:
    answer: Any = client.post("/api/v1/absences", headers=token(app, FEDOROV),
                         json={"start": day(35), "end": day(36)})
    absence_id = answer.json["id"]
    login_as(client, EMAILS[TORG_HEAD])
    page: Any = client.get(f"/absences/{absence_id}/edit").get_data(as_text=True)
    assert f'value="{day(35)}"' in page and f'value="{day(36)}"' in page
    saved: Any = client.post(f"/absences/{absence_id}/edit",
                        data=form(FEDOROV, test_clock.day(35), test_clock.day(39),
                                  kind="business_trip"))
    assert saved.status_code == 302
    [row] = absences(app)
    assert row["kind"] == "business_trip" and row["deputy_id"] == GRIGORIEVA
    assert confirmed(client, f"/absences/{absence_id}/delete").status_code == 302
    assert absences(app) == []


def test_the_calendar_shades_absent_days_with_the_deputy(
        app: Flask, client: FlaskClient, login_as: LoginAs, t0: datetime) -> None:
    first = next_month(t0) + timedelta(days=4)
    client.post("/api/v1/absences", headers=token(app, ADMIN), json={
        "user_id": FEDOROV, "start": first.isoformat(),
        "end": (first + timedelta(days=2)).isoformat(), "deputy_id": GRIGORIEVA})
    login_as(client, EMAILS[NIKITINA])
    month = first.strftime("%Y-%m")
    page: Any = client.get("/absences/", query_string={"department": 3, "month": month})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = html.split("Алексей Фёдоров</th>")[1].split("</tr>")[0]
    cells = re.findall(r"<td class=\"([^\"]*)\"", row)
    away = [i + 1 for i, css in enumerate(cells) if "away" in css]
    assert away == [first.day, first.day + 1, first.day + 2]
    assert "deputy: Мария Григорьева" in row
    nikitina_row = html.split("Ольга Никитина</th>")[1].split("</tr>")[0]
    assert "away" not in nikitina_row
    assert "Игорь Павлов" not in html  # another department
    previous = (first.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert f"month={previous}" in html
    assert client.get("/absences/", query_string={"month": previous}).status_code == 200


def test_standing_deputies_page(app: Flask, client: FlaskClient, login_as: LoginAs,
                                t0: datetime) -> None:
    login_as(client, EMAILS[FEDOROV])
    answer: Any = client.post("/absences/deputies", data={"user_id": FEDOROV,
                                                     "deputy_id": NIKITINA})
    assert answer.status_code == 302
    page: Any = client.get("/absences/deputies").get_data(as_text=True)
    assert "Ольга Никитина" in page.split(f'id="deputy-of-{FEDOROV}"')[1].split("</tr>")[0]
    assert client.post("/absences/deputies", data={"user_id": GRIGORIEVA,
                                                   "deputy_id": NIKITINA}).status_code == 403
    rejected: Any = client.post("/absences/deputies", data={"user_id": FEDOROV,
                                                       "deputy_id": FEDOROV})
    assert rejected.status_code == 422
    assert "their own deputy" in rejected.get_data(as_text=True)


def test_the_pages_speak_russian(app: Flask, client: FlaskClient, login_as: LoginAs,
                                 t0: datetime, day: Day, test_clock: TestClock) -> None:
    client.post("/api/v1/absences", headers=token(app, FEDOROV), json={
        "start": iso(t0 + timedelta(days=40)), "end": iso(t0 + timedelta(days=41))})
    login_as(client, EMAILS[FEDOROV])
    client.post("/language", data={"lang": "ru", "next": "/absences/mine"})
    mine: Any = client.get("/absences/mine").get_data(as_text=True)
    assert "Мои отсутствия" in mine and "Отпуск" in mine
    rejected = client.post("/absences/new",
                           data=form(FEDOROV, test_clock.day(34), test_clock.day(25)))
    html = rejected.get_data(as_text=True)
    assert "Отсутствие должно заканчиваться позже, чем начинается." in html

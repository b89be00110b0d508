"""Every list is a grid: search narrows, a filter narrows, a column sorts both ways, pages page,
the CSV holds the filtered rows of every page (header in the viewer's language, a BOM so a
spreadsheet reads Cyrillic), a bad parameter is a 400 naming it, and nobody's CSV holds a row
they may not see."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.absences.models import Absence, state_at
from portal_ext.directory.models import PortalUser
from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.moves.models import MoveBatch
from portal_ext.notifications.models import Delivery
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import current_portal
from tests.clock import TestClock
from tests.ext.absences_support import (
    ADMIN,
    EMAILS,
    FEDOROV,
    GRIGORIEVA,
    KUZNETSOV,
    NIKITINA,
    ORLOV,
    SMIRNOVA,
    TORG_HEAD,
)
from tests.ext.oauth_login import LoginAs

LISTS = ("/users", "/events", "/deliveries", "/absences/mine", "/absences/people",
         "/handovers/", "/transfers/")
TABLES = {"/users": "users", "/events": "events", "/deliveries": "deliveries",
          "/absences/mine": "absences", "/absences/people": "absences",
          "/handovers/": "handovers", "/transfers/": "transfers"}


# -- reading a grid as a user sees it ------------------------------------------------------------
def page_of(client: FlaskClient, path: str, **query: Any) -> str:
    answer = client.get(path, query_string=query)
    assert answer.status_code == 200, (path, query, answer.status_code)
    return answer.get_data(as_text=True)


def rows(markup: str, table: str) -> list[list[str]]:
    """The cells' text of each body row of the table ``table`` (no table: no rows)."""
    if f'id="{table}"' not in markup:
        return []
    body = markup.split(f'id="{table}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    found = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        found.append([html.unescape(" ".join(re.sub(r"<[^>]+>", " ", c).split()))
                      for c in cells])
    return found


def column(markup: str, table: str, index: int) -> list[str]:
    return [row[index] for row in rows(markup, table)]


def csv_of(client: FlaskClient, path: str, **query: Any) -> list[list[str]]:
    answer = client.get(path, query_string={**query, "format": "csv"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in answer.headers["Content-Disposition"]
    raw = answer.get_data()
    assert raw.startswith("\ufeff".encode()), "no BOM: Excel would misread Cyrillic"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def refused(client: FlaskClient, path: str, **query: Any) -> str:
    answer = client.get(path, query_string=query)
    assert answer.status_code == 400, (path, query, answer.status_code)
    return answer.get_data(as_text=True)


# -- data ---------------------------------------------------------------------------------------
def add_people(app: Flask, count: int) -> None:
    """``count`` more people in the ТК-Лифт department (portal department 4)."""
    with app.app_context():
        portal = current_portal()
        for number in range(count):
            db.session.add(PortalUser(
                portal_id=portal.id, portal_user_id=1000 + number, email=f"p{number}@demo.portal",
                name="Тест", last_name=f"Сотрудник{number:02d}", work_position="",
                active=True, is_admin=False, department_ids=[4]))
        db.session.commit()


def add_events(app: Flask, count: int, *, name: str = "ONCRMLEADADD", state: str = "done",
               at: datetime | None = None) -> None:
    with app.app_context():
        portal = current_portal()
        start = at or host_utcnow()
        base = db.session.query(InboxEvent).count()
        for number in range(count):
            db.session.add(InboxEvent(
                portal_id=portal.id, idempotency_key=f"grid-{base + number}", event_name=name,
                source="webhook", entity_type="LEAD", entity_id=500 + base + number,
                payload={}, received_at=start - timedelta(minutes=number), state=state,
                attempts=number % 3, error="portal timed out" if state == "failed" else None))
        db.session.commit()


def add_delivery(app: Flask, *, recipient: int, owner: int, reason: str = "deputy",
                 state: str = "sent", at: datetime | None = None) -> None:
    with app.app_context():
        portal = current_portal()
        number = db.session.query(Delivery).count()
        db.session.add(Delivery(
            portal_id=portal.id, source_key=f"grid-{number}", source_kind="im",
            kind="new_lead", entity_type="LEAD", entity_id=700 + number,
            owner_portal_user_id=owner, recipient_portal_user_id=recipient, reason=reason,
            reason_detail=[{"kind": "deputy", "owner_id": owner}], message="copy", state=state,
            attempts=1, created_at=at or host_utcnow()))
        db.session.commit()


def add_absence(app: Flask, user: int, start: datetime, days: int, *, kind: str = "vacation",
                deputy: int | None = None, now: datetime) -> int:
    with app.app_context():
        end = start + timedelta(days=days)
        row = Absence(portal_id=current_portal().id, user_id=user, start=start, end=end,
                      kind=kind, deputy_id=deputy, note="", recorded_at=now, updated_at=now,
                      state=state_at(start, end, now))
        db.session.add(row)
        db.session.commit()
        return row.id


def add_batch(app: Flask, owner: int, to: int | None, *, kind: str = "handover",
              state: str = "applied", items: int = 3, at: datetime | None = None) -> int:
    with app.app_context():
        batch = MoveBatch(portal_id=current_portal().id, kind=kind, state=state, owner_id=owner,
                          to_user_id=to, options={"strategy": "person"},
                          created_by=None, created_at=at or host_utcnow(), counts={"deal": items})
        db.session.add(batch)
        db.session.commit()
        return batch.id


@pytest.fixture
def as_admin(client: FlaskClient, login_as: LoginAs) -> Iterator[FlaskClient]:
    login_as(client, EMAILS[ADMIN])
    yield client


# -- every list ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(("query", "name"), [
    ({"sort": "password"}, "sort"), ({"page": "0"}, "page"), ({"page": "two"}, "page"),
    ({"per_page": "7"}, "per_page"), ({"format": "xls"}, "format"), ({"q": "x" * 101}, "q"),
    ({"state": "nonsense"}, "state")])
def test_a_bad_parameter_is_refused_naming_it(as_admin: FlaskClient, path: str,
                                              query: dict[str, str], name: str) -> None:
    if path == "/users" and name == "state":
        query, name = {"status": "nonsense"}, "status"
    page = refused(as_admin, path, **query)
    assert f"“{name}”" in page


@pytest.mark.parametrize("path", LISTS)
def test_every_filter_control_has_a_label_and_the_list_exports(as_admin: FlaskClient,
                                                               path: str) -> None:
    page = page_of(as_admin, path)
    form = page.split('class="filters grid-filters"', 1)[1].split("</form>", 1)[0]
    controls = re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', form)
    assert controls, form
    for control in controls:
        assert f'<label for="{control}">' in form, control
    assert "format=csv" in form


@pytest.mark.parametrize("path", ["/events", "/deliveries", "/absences/mine", "/handovers/"])
def test_a_period_that_ends_before_it_starts_is_refused(as_admin: FlaskClient,
                                                        path: str) -> None:
    assert "“to”" in refused(as_admin, path, **{"from": "2000-01-02", "to": "2000-01-01"})
    assert "“from”" in refused(as_admin, path, **{"from": "yesterday"})


def test_the_filter_stays_in_the_links(app: Flask, as_admin: FlaskClient) -> None:
    add_people(app, 30)
    page = page_of(as_admin, "/users", department=4, sort="-name", per_page=25)
    links = [html.unescape(link) for link in re.findall(r'href="(/users\?[^"]+)"', page)]
    paging = [link for link in links if re.search(r"[?&]page=2\b", link)]
    assert paging and all("department=4" in link and "sort=-name" in link
                          and "per_page=25" in link for link in paging)
    csv_link = next(link for link in links if "format=csv" in link)
    assert "department=4" in csv_link and "sort=-name" in csv_link


# -- users --------------------------------------------------------------------------------------
def test_users_search_filter_sort_page_and_csv(app: Flask, as_admin: FlaskClient) -> None:
    found = page_of(as_admin, "/users", q="никитина")  # any case, Cyrillic
    assert column(found, "users", 0) == ["Ольга Никитина"]
    assert column(page_of(as_admin, "/users", q="M.ORLOV"), "users", 0) == ["Максим Орлов"]

    lift = column(page_of(as_admin, "/users", department=4), "users", 0)
    assert sorted(lift) == ["Елена Смирнова", "Игорь Павлов", "Роман Кузнецов"]

    ascending = column(page_of(as_admin, "/users", sort="name"), "users", 0)
    descending = column(page_of(as_admin, "/users", sort="-name"), "users", 0)
    assert len(ascending) == 12 and descending == list(reversed(ascending))
    last_names = [name.split()[-1] for name in ascending]
    assert last_names == sorted(last_names)

    add_people(app, 30)  # 42 people
    first = page_of(as_admin, "/users", per_page=25)
    second = page_of(as_admin, "/users", per_page=25, page=2)
    assert len(rows(first, "users")) == 25 and len(rows(second, "users")) == 17
    assert "Page 2 of 2" in second and 'aria-current="page">2<' in second
    assert not set(column(first, "users", 0)) & set(column(second, "users", 0))
    beyond = page_of(as_admin, "/users", per_page=25, page=9)
    assert column(beyond, "users", 0) == column(second, "users", 0)  # the last page

    table = csv_of(as_admin, "/users", department=4, sort="-name")
    shown = column(page_of(as_admin, "/users", department=4, sort="-name"), "users", 0)
    assert table[0] == ["Full name", "E-mail", "Position", "Department", "Role", "Status"]
    assert [row[0] for row in table[1:]] == shown  # every page, same order
    assert len(table) == 1 + 33


def test_users_csv_speaks_russian(as_admin: FlaskClient) -> None:
    as_admin.post("/language", data={"lang": "ru", "next": "/users"})
    table = csv_of(as_admin, "/users", status="active")
    assert table[0][0] == "Имя и фамилия" and table[0][-1] == "Статус"
    assert [row[0] for row in table if row[0] == "Ольга Никитина"] == ["Ольга Никитина"]
    shown = page_of(as_admin, "/users", status="active")
    assert {row[-1] for row in table[1:]} == set(column(shown, "users", 5)) != {"Active"}


def test_dismissed_users_and_roles_filter(app: Flask, as_admin: FlaskClient) -> None:
    with app.app_context():
        user = db.session.scalars(select(PortalUser).where(
            PortalUser.portal_user_id == ORLOV)).one()
        user.active = False
        db.session.commit()
    assert column(page_of(as_admin, "/users", status="dismissed"), "users", 0) == [
        "Максим Орлов"]
    heads = column(page_of(as_admin, "/users", role="head"), "users", 0)
    assert "Сергей Морозов" in heads and "Ольга Никитина" not in heads


def test_a_head_exports_only_their_departments_people(client: FlaskClient,
                                                      login_as: LoginAs) -> None:
    login_as(client, EMAILS[TORG_HEAD])
    names = {row[0] for row in csv_of(client, "/users")[1:]}
    assert "Ольга Никитина" in names and "Игорь Павлов" not in names
    assert "Дмитрий Соколов" not in names
    assert names == set(column(page_of(client, "/users"), "users", 0))


# -- events -------------------------------------------------------------------------------------
def test_events_search_filter_sort_page_and_csv(app: Flask, as_admin: FlaskClient) -> None:
    add_events(app, 40)
    add_events(app, 3, name="ONTASKUPDATE", state="failed")
    tasks = page_of(as_admin, "/events", q="taskupd")
    # The page names the event in words (the code is on hover).
    assert set(column(tasks, "events", 1)) == {"Task: changed"} and len(rows(tasks, "events")) == 3
    failed = page_of(as_admin, "/events", state="failed")
    assert len(rows(failed, "events")) == 3
    assert len(rows(page_of(as_admin, "/events", event="onCrmLeadAdd"), "events")) == 40

    fewest = column(page_of(as_admin, "/events", sort="attempts", per_page=100), "events", 5)
    most = column(page_of(as_admin, "/events", sort="-attempts", per_page=100), "events", 5)
    assert fewest[0] == "0" and most[0] == "2" and sorted(fewest) == fewest

    first, second = (page_of(as_admin, "/events", per_page=25, page=n) for n in (1, 2))
    assert len(rows(first, "events")) == 25 and len(rows(second, "events")) == 18
    assert "Page 1 of 2" in first and re.search(r'href="/events\?[^"]*(\?|&amp;)page=2\b', first)

    table = csv_of(as_admin, "/events", event="ONCRMLEADADD", per_page=25)
    assert table[0][:2] == ["Received", "Event"] and len(table) == 1 + 40  # all pages
    assert {row[1] for row in table[1:]} == {"ONCRMLEADADD"}


def test_events_filter_by_period(app: Flask, as_admin: FlaskClient,
                                 test_clock: TestClock) -> None:
    add_events(app, 2, at=test_clock.at(-10, 12))
    add_events(app, 5, at=test_clock.at(-3, 12))
    day = test_clock.day
    assert len(rows(page_of(as_admin, "/events", **{"from": day(-5)}), "events")) == 5
    assert len(rows(page_of(as_admin, "/events", to=day(-5)), "events")) == 2
    one_day = page_of(as_admin, "/events", **{"from": day(-10), "to": day(-10)})
    assert len(rows(one_day, "events")) == 2
    dated = csv_of(as_admin, "/events", to=day(-5))
    assert [row[0][:10] for row in dated[1:]] == [day(-10).isoformat()] * 2


# -- deliveries ---------------------------------------------------------------------------------
def _deliveries(app: Flask) -> None:
    add_delivery(app, recipient=FEDOROV, owner=NIKITINA, state="sent")
    add_delivery(app, recipient=GRIGORIEVA, owner=NIKITINA, reason="team", state="failed")
    add_delivery(app, recipient=GRIGORIEVA, owner=SMIRNOVA, reason="team", state="sent")
    add_delivery(app, recipient=KUZNETSOV, owner=SMIRNOVA, state="pending")


def test_deliveries_search_filter_sort_and_csv(app: Flask, as_admin: FlaskClient) -> None:
    _deliveries(app)
    smirnova = page_of(as_admin, "/deliveries", q="смирнова")
    assert set(column(smirnova, "deliveries", 2)) == {"Елена Смирнова"}
    assert len(rows(smirnova, "deliveries")) == 2
    assert len(rows(page_of(as_admin, "/deliveries", user=GRIGORIEVA), "deliveries")) == 2
    assert column(page_of(as_admin, "/deliveries", state="failed"), "deliveries", 1) == [
        "Мария Григорьева"]
    assert len(rows(page_of(as_admin, "/deliveries", reason="team"), "deliveries")) == 2
    up = column(page_of(as_admin, "/deliveries", sort="recipient"), "deliveries", 1)
    down = column(page_of(as_admin, "/deliveries", sort="-recipient"), "deliveries", 1)
    assert up != down and up == sorted(up, key=lambda n: n.split()[-1])
    table = csv_of(as_admin, "/deliveries", reason="team")
    assert table[0][:3] == ["Recorded", "Recipient", "Notification of"]
    assert sorted(row[1] for row in table[1:]) == ["Мария Григорьева"] * 2


def test_an_employees_deliveries_csv_holds_only_their_own(app: Flask, client: FlaskClient,
                                                          login_as: LoginAs) -> None:
    _deliveries(app)
    login_as(client, EMAILS[FEDOROV])
    table = csv_of(client, "/deliveries")
    assert len(table) == 2
    assert all("Алексей Фёдоров" in (row[1], row[2]) for row in table[1:])
    # Another person is not a choice for them: the filter is refused, not silently emptied.
    assert "“user”" in refused(client, "/deliveries", user=SMIRNOVA, format="csv")
    assert len(csv_of(client, "/deliveries", q="смирнова")) == 1  # header only


# -- absences -----------------------------------------------------------------------------------
@pytest.fixture
def absences_now(app: Flask, t0: datetime, test_clock: TestClock) -> dict[str, int]:
    """Fedorov's absences around the portal's now (t0), and others' he may not see."""
    ids = {
        "past": add_absence(app, FEDOROV, t0 - timedelta(days=40), 5, now=t0),
        "far": add_absence(app, FEDOROV, t0 + timedelta(days=23), 3, kind="business_trip",
                           now=t0),
        "near": add_absence(app, FEDOROV, t0 + timedelta(days=3), 2, deputy=GRIGORIEVA,
                            now=t0),
        "current": add_absence(app, FEDOROV, t0 - timedelta(days=1), 4, kind="sick_leave",
                               now=t0),
        "older": add_absence(app, FEDOROV, t0 - timedelta(days=90), 2, now=t0),
    }
    ids["nikitina"] = add_absence(app, NIKITINA, t0 + timedelta(days=5), 2, now=t0)
    ids["smirnova"] = add_absence(app, SMIRNOVA, t0 + timedelta(days=6), 2, now=t0)
    return ids


def _ids(markup: str) -> list[int]:
    table = markup.split('id="absences"', 1)[1].split("</table>", 1)[0] \
        if 'id="absences"' in markup else ""
    return [int(n) for n in re.findall(r'<tr id="absence-(\d+)"', table)]


def test_my_absences_list_the_current_and_upcoming_first_soonest_on_top(
        client: FlaskClient, login_as: LoginAs, absences_now: dict[str, int]) -> None:
    login_as(client, EMAILS[FEDOROV])
    page = page_of(client, "/absences/mine")
    ids = absences_now
    assert _ids(page) == [ids["current"], ids["near"], ids["far"], ids["past"], ids["older"]]
    assert _ids(page_of(client, "/absences/mine", sort="start")) == [
        ids["older"], ids["past"], ids["current"], ids["near"], ids["far"]]
    assert _ids(page_of(client, "/absences/mine", sort="-start")) == [
        ids["far"], ids["near"], ids["current"], ids["past"], ids["older"]]


def test_my_absences_filter_search_and_csv(client: FlaskClient, login_as: LoginAs,
                                           absences_now: dict[str, int], t0: datetime,
                                           test_clock: TestClock) -> None:
    login_as(client, EMAILS[FEDOROV])
    ids = absences_now
    assert _ids(page_of(client, "/absences/mine", kind="business_trip")) == [ids["far"]]
    assert _ids(page_of(client, "/absences/mine", state="planned")) == [ids["near"], ids["far"]]
    assert _ids(page_of(client, "/absences/mine", q="григорьева")) == [ids["near"]]
    today = test_clock.local(t0).date()
    window = {"from": (today + timedelta(days=1)).isoformat(),
              "to": (today + timedelta(days=10)).isoformat()}
    assert _ids(page_of(client, "/absences/mine", **window)) == [ids["current"], ids["near"]]
    table = csv_of(client, "/absences/mine", **window)
    assert table[0] == ["From", "To", "Kind", "Deputy", "State", "Note"]
    near = test_clock.local(t0 + timedelta(days=3)).date()
    assert [row[0] for row in table[1:]] == [
        test_clock.local(t0 - timedelta(days=1)).date().isoformat(), near.isoformat()]
    assert table[2][3] == "Мария Григорьева"


def test_an_employees_absence_csv_holds_only_their_own(
        client: FlaskClient, login_as: LoginAs, absences_now: dict[str, int]) -> None:
    login_as(client, EMAILS[FEDOROV])
    table = csv_of(client, "/absences/mine")
    assert len(table) == 1 + 5  # his five, not Nikitina's or Smirnova's
    assert "Who" not in table[0]
    assert client.get("/absences/people").status_code == 403
    assert client.get("/absences/people?format=csv").status_code == 403


def test_a_head_lists_the_absences_of_their_people(
        client: FlaskClient, login_as: LoginAs, absences_now: dict[str, int]) -> None:
    login_as(client, EMAILS[TORG_HEAD])
    ids = absences_now
    everyone = page_of(client, "/absences/people")
    assert ids["smirnova"] not in _ids(everyone)  # another department
    assert set(_ids(everyone)) == set(ids.values()) - {ids["smirnova"]}
    assert _ids(page_of(client, "/absences/people", user=NIKITINA)) == [ids["nikitina"]]
    assert _ids(page_of(client, "/absences/people", q="никитина")) == [ids["nikitina"]]
    assert "“user”" in refused(client, "/absences/people", user=SMIRNOVA)
    by_person = column(page_of(client, "/absences/people", sort="-person"), "absences", 0)
    assert by_person[0] == "Алексей Фёдоров" and by_person[-1] == "Ольга Никитина"
    table = csv_of(client, "/absences/people")
    assert table[0][0] == "Who" and "Елена Смирнова" not in {row[0] for row in table}
    assert len(table) == 1 + 6


def test_absences_page_through(app: Flask, client: FlaskClient, login_as: LoginAs,
                               t0: datetime, test_clock: TestClock) -> None:
    for week in range(30):
        add_absence(app, FEDOROV, t0 + timedelta(days=7 * week + 1), 2, now=t0)
    login_as(client, EMAILS[FEDOROV])
    first = page_of(client, "/absences/mine", per_page=25)
    second = page_of(client, "/absences/mine", per_page=25, page=2)
    assert len(_ids(first)) == 25 and len(_ids(second)) == 5
    assert _ids(first) == sorted(_ids(first))  # recorded in date order: soonest first
    assert len(csv_of(client, "/absences/mine", per_page=25)) == 1 + 30


# -- handovers and transfers --------------------------------------------------------------------
def test_handovers_filter_sort_page_and_csv(app: Flask, as_admin: FlaskClient) -> None:
    done = add_batch(app, NIKITINA, FEDOROV, items=5)
    back = add_batch(app, SMIRNOVA, KUZNETSOV, state="restored", items=2)
    many = [add_batch(app, FEDOROV, GRIGORIEVA, state="restored") for _ in range(26)]
    assert column(page_of(as_admin, "/handovers/", state="applied"), "handovers", 0) == [
        str(done)]
    assert column(page_of(as_admin, "/handovers/", user=KUZNETSOV), "handovers", 0) == [
        str(back)]
    assert column(page_of(as_admin, "/handovers/", q="никитина"), "handovers", 0) == [str(done)]
    newest = column(page_of(as_admin, "/handovers/"), "handovers", 0)
    oldest = column(page_of(as_admin, "/handovers/", sort="id"), "handovers", 0)
    assert newest[0] == str(many[-1]) and oldest[0] == str(done)
    assert len(rows(page_of(as_admin, "/handovers/", per_page=25, page=2), "handovers")) == 3
    table = csv_of(as_admin, "/handovers/", state="restored", per_page=25)
    assert table[0] == ["#", "From", "To", "Items", "State", "Created"]
    assert len(table) == 1 + 27
    assert next(row for row in table if row[0] == str(back))[1:4] == [
        "Елена Смирнова", "Роман Кузнецов", "2"]


def test_a_head_sees_and_exports_only_their_peoples_handovers(
        app: Flask, client: FlaskClient, login_as: LoginAs) -> None:
    mine = add_batch(app, NIKITINA, FEDOROV)
    add_batch(app, SMIRNOVA, KUZNETSOV)
    login_as(client, EMAILS[TORG_HEAD])
    assert column(page_of(client, "/handovers/"), "handovers", 0) == [str(mine)]
    assert [row[0] for row in csv_of(client, "/handovers/")[1:]] == [str(mine)]


def test_transfers_filter_and_csv(app: Flask, as_admin: FlaskClient) -> None:
    first = add_batch(app, ORLOV, SMIRNOVA, kind="transfer", items=7)
    second = add_batch(app, KUZNETSOV, NIKITINA, kind="transfer", state="restored")
    add_batch(app, NIKITINA, FEDOROV)  # a handover: not a transfer
    page = page_of(as_admin, "/transfers/")
    assert column(page, "transfers", 0) == [str(second), str(first)]
    assert column(page_of(as_admin, "/transfers/", user=ORLOV), "transfers", 0) == [str(first)]
    assert column(page_of(as_admin, "/transfers/", state="restored"), "transfers", 0) == [
        str(second)]
    assert column(page_of(as_admin, "/transfers/", sort="owner"), "transfers", 1) == [
        "Роман Кузнецов", "Максим Орлов"]
    table = csv_of(as_admin, "/transfers/", user=ORLOV)
    assert table[0][2] == "How" and table[1][:4] == [
        str(first), "Максим Орлов", "one named person → Елена Смирнова", "7"]


@pytest.mark.parametrize("path", LISTS)
def test_the_grid_speaks_russian(as_admin: FlaskClient, path: str) -> None:
    as_admin.post("/language", data={"lang": "ru", "next": path})
    form = page_of(as_admin, path).split('class="filters grid-filters"', 1)[1].split(
        "</form>", 1)[0]
    assert "Строк на странице" in form and "Выгрузить в CSV" in form and "Показать" in form
    for english in ("Rows per page", "Export CSV", ">Show<", ">All<", "Filter the list"):
        assert english not in form, english
    bad = refused(as_admin, path, sort="password")
    assert "Недопустимое значение параметра «sort»" in bad


def test_a_head_recording_someones_absence_lands_on_their_peoples_list(
        client: FlaskClient, login_as: LoginAs, t0: datetime, test_clock: TestClock) -> None:
    login_as(client, EMAILS[TORG_HEAD])
    first = test_clock.local(t0).date() + timedelta(days=20)
    answer = client.post("/absences/new", data={
        "user_id": FEDOROV, "start": first.isoformat(),
        "end": (first + timedelta(days=2)).isoformat(), "kind": "vacation",
        "deputy_id": GRIGORIEVA, "note": ""})
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert "/absences/people#absence-" in location
    listed = page_of(client, "/absences/people")
    assert f'id="absence-{location.rsplit("-", 1)[1]}"' in listed
    assert "The absence was recorded." in listed

"""The pages: each shows its content to the roles allowed and refuses the others."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.auth.models import ApiToken
from portal_ext.directory.models import PortalUser
from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import current_portal
from simulator import Simulator
from tests.clock import TestClock
from tests.ext.oauth_login import LoginAs, path_of

ADMIN = "admin@demo.portal"  # Дмитрий Соколов, portal administrator
HEAD = "s.morozov@demo.portal"  # Сергей Морозов, heads Торг-Комс (department 3)
EMPLOYEE = "o.nikitina@demo.portal"  # Ольга Никитина, in Торг-Комс
OTHER_EMPLOYEE = "m.orlov@demo.portal"  # Максим Орлов, marketing

PAGES = ("/", "/users", "/events", "/tokens")


def _text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def _nav(page: str) -> list[str]:
    nav = page.split("<nav", 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="[^"]*"[^>]*>([^<]+)</a>', nav)


def _add_events(app: Flask, *rows: tuple[str, str]) -> None:
    with app.app_context():
        portal = current_portal()
        now = host_utcnow()
        for number, (name, state) in enumerate(rows):
            db.session.add(InboxEvent(
                portal_id=portal.id, idempotency_key=f"test-{number}", event_name=name,
                source="webhook", entity_type="DEAL", entity_id=100 + number,
                payload={"event": name}, received_at=now - timedelta(minutes=number),
                state=state, attempts=1 if state == "failed" else 0,
                error="portal timed out" if state == "failed" else None))
        db.session.commit()


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitor_is_sent_to_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert path_of(response.headers["Location"]).startswith("/auth/login?next=")


def test_dashboard_shows_the_portal_connection_and_counts(app: Flask, client: FlaskClient,
                                                          login_as: LoginAs) -> None:
    _add_events(app, ("ONCRMDEALADD", "done"), ("ONCRMDEALUPDATE", "failed"))
    login_as(client, ADMIN)
    page = _text(client, "/")
    assert "Portal connection" in page
    assert app.config["PORTAL_URL"] in page
    assert "simulated portal, in-process" in page
    assert re.search(r'id="synced-users">12<', page)
    assert "Departments" in page
    assert "ONCRMDEALUPDATE" in page and "ONCRMDEALADD" in page  # last events
    assert {"Dashboard", "Events", "Users", "API tokens"} <= set(_nav(page))


def test_employee_dashboard_has_no_inbox_and_a_short_menu(client: FlaskClient,
                                                          login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    page = _text(client, "/")
    assert "Ольга Никитина" in page
    assert "Event inbox" not in page
    menu = _nav(page)
    assert "Dashboard" in menu and "API tokens" in menu
    assert "Events" not in menu and "Users" not in menu


def test_admin_sees_every_user_with_role_and_department(client: FlaskClient,
                                                        login_as: LoginAs) -> None:
    login_as(client, ADMIN)
    page = _text(client, "/users")
    assert page.count("<tr>") == 13  # header + 12 people
    row = page.split("Ольга Никитина", 1)[1].split("</tr>", 1)[0]
    assert "Торг-Комс (спецтехника и оборудование)" in row
    assert "employee" in row and "Active" in row
    head_row = page.split("Сергей Морозов", 1)[1].split("</tr>", 1)[0]
    assert "department head" in head_row


def test_users_page_filters_by_status_and_department(app: Flask, client: FlaskClient,
                                                     login_as: LoginAs) -> None:
    with app.app_context():
        user = db.session.scalars(select(PortalUser)
                                  .where(PortalUser.email == OTHER_EMPLOYEE)).one()
        user.active = False
        db.session.commit()
    login_as(client, ADMIN)
    dismissed = _text(client, "/users?status=dismissed")
    assert "Максим Орлов" in dismissed and dismissed.count("<tr>") == 2
    assert "Dismissed" in dismissed.split("Максим Орлов", 1)[1]
    sales = _text(client, "/users?department=4")  # ТК-Лифт
    names = {"Игорь Павлов", "Елена Смирнова", "Роман Кузнецов"}
    assert all(name in sales for name in names) and sales.count("<tr>") == 4


def test_head_sees_only_the_people_of_their_department(client: FlaskClient,
                                                       login_as: LoginAs) -> None:
    login_as(client, HEAD)
    page = _text(client, "/users")
    assert "People of the departments you head." in page
    for name in ("Сергей Морозов", "Ольга Никитина", "Алексей Фёдоров", "Мария Григорьева"):
        assert name in page
    assert "Игорь Павлов" not in page and "Дмитрий Соколов" not in page
    assert "Users" in _nav(page) and "Events" not in _nav(page)


def test_employee_may_not_open_users_or_events(client: FlaskClient,
                                               login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    for path in ("/users", "/events", "/users?status=active"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Access denied" in response.get_data(as_text=True)


def test_head_may_not_open_events(client: FlaskClient, login_as: LoginAs) -> None:
    login_as(client, HEAD)
    assert client.get("/events").status_code == 403


def test_events_page_lists_and_filters_the_inbox(app: Flask, client: FlaskClient,
                                                 login_as: LoginAs) -> None:
    _add_events(app, ("ONCRMDEALADD", "done"), ("ONCRMDEALUPDATE", "failed"),
                ("ONTASKUPDATE", "pending"))
    login_as(client, ADMIN)
    page = _text(client, "/events")
    assert page.count("<tr>") == 4
    assert "badge-failed" in page and "portal timed out" in page
    failed = _text(client, "/events?state=failed")
    assert failed.count("<tr>") == 2 and "ONCRMDEALUPDATE" in failed.split("<tbody>")[1]
    tasks = _text(client, "/events?event=ontaskupdate")
    assert tasks.count("<tr>") == 2 and "ONTASKUPDATE" in tasks.split("<tbody>")[1]
    nothing = _text(client, "/events?state=done&event=ONTASKUPDATE")
    assert "No events match these filters." in nothing


@pytest.mark.parametrize(("zone", "shown"), [("Europe/Moscow", "09:30"),
                                             ("Asia/Novosibirsk", "13:30")])
def test_event_times_are_shown_in_the_portal_time_zone(app: Flask, client: FlaskClient,
                                                      login_as: LoginAs, zone: str,
                                                      shown: str, test_clock: TestClock) -> None:
    received = test_clock.at(-17, 9, 30)  # 09:30 in Moscow, 13:30 in Novosibirsk
    app.config["PORTAL_TIMEZONE"] = zone
    with app.app_context():
        db.session.add(InboxEvent(
            portal_id=current_portal().id, idempotency_key="zone", event_name="ONCRMDEALADD",
            source="webhook", entity_type="DEAL", entity_id=1, payload={},
            received_at=received, state="done", attempts=0))
        db.session.commit()
    login_as(client, ADMIN)
    for path in ("/events", "/"):
        body = _text(client, path).rsplit("<tbody>", 1)[1].split("</tbody>", 1)[0]
        day = test_clock.local(received).date()
        assert "ONCRMDEALADD" in body and f"{day.day} {day:%b %Y}, {shown}" in body, (path, body)


def test_events_page_pages_through_a_long_inbox(app: Flask, client: FlaskClient,
                                                login_as: LoginAs) -> None:
    _add_events(app, *[("ONCRMLEADADD", "done")] * 60)
    login_as(client, ADMIN)
    first = _text(client, "/events")
    assert first.count("<tr>") == 51 and "Page 1 of 2" in first
    second = _text(client, "/events?page=2")
    assert second.count("<tr>") == 11 and "Page 2 of 2" in second


def test_events_from_the_portal_arrive_on_the_events_page(demo_sim: Simulator,
                                                          client: FlaskClient,
                                                          login_as: LoginAs) -> None:
    demo_sim.call("crm.lead.add", {"fields": {"TITLE": "Погрузчик для склада"}})
    demo_sim.bus.flush()
    login_as(client, ADMIN)
    assert "ONCRMLEADADD" in _text(client, "/events")


def _issue(client: FlaskClient, name: str) -> str:
    response = client.post("/tokens", data={"name": name})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    match = re.search(r'<code class="secret">(pe_[\w-]+)</code>', response.get_data(as_text=True))
    assert match, "the new token is shown"
    return match.group(1)


def test_employee_issues_a_token_shown_once_and_revokes_it(app: Flask, client: FlaskClient,
                                                          login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    plain = _issue(client, "report script")
    later = _text(client, "/tokens")
    assert "report script" in later and plain not in later
    with app.app_context():
        token = db.session.scalars(select(ApiToken)).one()
        assert token.token_hash != plain and plain[-10:] not in token.token_hash
        token_id = token.id
    response = client.post(f"/tokens/{token_id}/revoke")
    assert path_of(response.headers["Location"]) == "/tokens"
    assert "Revoked" in _text(client, "/tokens")
    assert client.get("/api/v1/users", headers={"Authorization": f"Bearer {plain}"}
                      ).status_code == 401


def test_token_without_a_name_is_refused_and_nothing_is_stored(app: Flask,
                                                               client: FlaskClient,
                                                               login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    response = client.post("/tokens", data={"name": "  "})
    assert response.status_code == 422
    assert "Give the token a name." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).all() == []


def test_tokens_are_private_except_to_the_admin(app: Flask, client: FlaskClient,
                                                login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    _issue(client, "Nikitina's script")
    with app.app_context():
        token_id = db.session.scalars(select(ApiToken.id)).one()
    client.post("/auth/logout")

    login_as(client, OTHER_EMPLOYEE)
    page = _text(client, "/tokens")
    assert "Nikitina&#39;s script" not in page
    assert client.post(f"/tokens/{token_id}/revoke").status_code == 404
    client.post("/auth/logout")

    login_as(client, ADMIN)
    page = _text(client, "/tokens")
    assert "Nikitina&#39;s script" in page and "Ольга Никитина" in page  # owner column
    client.post(f"/tokens/{token_id}/revoke")
    with app.app_context():
        revoked = db.session.get(ApiToken, token_id)
        assert revoked is not None and revoked.revoked_at is not None


def test_unknown_page_is_a_friendly_404(client: FlaskClient, login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "There is no such page." in response.get_data(as_text=True)


def test_navigation_lists_only_installed_features_the_role_may_use(app: Flask) -> None:
    from portal_ext import navigation

    navigation.register("not_installed.index", "Not installed", roles={"admin"})
    try:
        with app.test_request_context():
            admin = [entry.endpoint for entry in navigation.entries_for("admin")]
            employee = [entry.endpoint for entry in navigation.entries_for("employee")]
            assert "not_installed.index" not in admin
            assert admin.index("dashboard.index") < admin.index("dashboard.events")
            assert "dashboard.events" not in employee and "dashboard.tokens" in employee
            assert navigation.entries_for(None) == []
    finally:
        navigation._REGISTRY.pop("not_installed.index")
    with pytest.raises(ValueError, match="unknown roles"):
        navigation.register("x.index", "X", roles={"boss"})

"""Logging in with the portal's OAuth, logging out, and what the session cookie allows."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from simulator import Simulator
from tests.ext.oauth_login import (
    LoginAs,
    oauth_login,
    path_of,
    portal_login_form,
    submit_portal_form,
)

ADMIN = "admin@demo.portal"
EMPLOYEE = "o.nikitina@demo.portal"  # Ольга Никитина, a sales manager


def _user(app: Flask, email: str) -> PortalUser:
    with app.app_context():
        user = db.session.scalars(select(PortalUser).where(PortalUser.email == email)).one()
        db.session.expunge(user)
        return user


def _set_user(app: Flask, email: str, **values: object) -> None:
    with app.app_context():
        user = db.session.scalars(select(PortalUser).where(PortalUser.email == email)).one()
        for key, value in values.items():
            setattr(user, key, value)
        db.session.commit()


def _logged_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def test_anonymous_visitor_is_sent_to_the_login_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert path_of(response.headers["Location"]) == "/auth/login?next=%2F"
    page = client.get("/auth/login?next=%2F").get_data(as_text=True)
    assert "Log in with the portal" in page
    assert 'href="/auth/login/portal?next=/"' in page


def test_login_button_goes_to_the_portal_with_client_id_state_and_callback(
        app: Flask, client: FlaskClient, login_as: LoginAs) -> None:
    response = client.get("/auth/login/portal")
    target = urlsplit(response.headers["Location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}" == app.config["PORTAL_URL"]
    assert target.path == "/oauth/authorize/"
    assert query["client_id"] == [app.config["OAUTH_CLIENT_ID"]]
    assert len(query["state"][0]) >= 32
    assert query["redirect_uri"] == [app.config["PORTAL_URL"] + "/auth/callback"]


def test_admin_logs_in_through_the_portal_and_lands_on_the_dashboard(
        app: Flask, client: FlaskClient, login_as: LoginAs) -> None:
    response = login_as(client, ADMIN)
    assert path_of(response.headers["Location"]) == "/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/").get_data(as_text=True)
    assert "Дмитрий Соколов" in page
    assert "administrator" in page


def test_login_returns_to_the_page_asked_for(client: FlaskClient, login_as: LoginAs) -> None:
    response = login_as(client, ADMIN, next_url="/users?status=active")
    assert path_of(response.headers["Location"]) == "/users?status=active"


def test_login_never_redirects_to_another_site(client: FlaskClient, login_as: LoginAs) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client.post("/auth/logout")
        response = login_as(client, ADMIN, next_url=target)
        assert path_of(response.headers["Location"]) == "/", target


def test_wrong_password_on_the_portal_logs_nobody_in(client: FlaskClient,
                                                      login_as: LoginAs) -> None:
    action, fields = portal_login_form(client)
    answer = submit_portal_form(client, action, fields, ADMIN, "wrong")
    assert answer.status_code == 200
    assert "Incorrect e-mail or password" in answer.get_data(as_text=True)
    assert not _logged_in(client)


def test_callback_with_a_state_this_browser_did_not_start_is_refused(
        client: FlaskClient, login_as: LoginAs) -> None:
    action, fields = portal_login_form(client)
    answer = submit_portal_form(client, action, fields, ADMIN, "demo")
    callback = urlsplit(answer.headers["Location"])
    query = parse_qs(callback.query)
    forged = client.get("/auth/callback", query_string={"code": query["code"][0],
                                                        "state": "forged-state"})
    assert forged.status_code == 400
    assert "not started here" in forged.get_data(as_text=True)
    assert not _logged_in(client)
    # The state is used up by the failed attempt: replaying the right one fails too.
    replay = client.get(path_of(answer.headers["Location"]))
    assert replay.status_code == 400
    assert not _logged_in(client)


def test_a_response_that_rewrites_the_session_mid_login_does_not_lose_the_login(
        client: FlaskClient, login_as: LoginAs) -> None:
    """A request the browser sent before the login started (its favicon, another tab) may be
    answered after it, with a session cookie of its own; the login still completes."""
    action, fields = portal_login_form(client)
    with client.session_transaction() as session:
        session.clear()
        session["_fresh"] = False  # what an anonymous page view writes back
    answer = submit_portal_form(client, action, fields, ADMIN, "demo")
    response = client.get(path_of(answer.headers["Location"]))
    assert response.status_code == 302
    assert path_of(response.headers["Location"]) == "/"
    assert _logged_in(client)


def test_callback_without_a_started_login_is_refused(client: FlaskClient) -> None:
    response = client.get("/auth/callback?code=abc&state=xyz")
    assert response.status_code == 400
    assert not _logged_in(client)


def test_a_code_the_portal_does_not_know_is_refused(client: FlaskClient,
                                                     login_as: LoginAs) -> None:
    started = client.get("/auth/login/portal")
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    response = client.get("/auth/callback", query_string={"code": "made-up", "state": state})
    assert response.status_code == 400
    assert "invalid_grant" in response.get_data(as_text=True)
    assert not _logged_in(client)


def test_a_user_dismissed_in_the_extension_is_refused(app: Flask, client: FlaskClient,
                                                      login_as: LoginAs) -> None:
    _set_user(app, EMPLOYEE, active=False)
    response = oauth_login(client, EMPLOYEE)
    assert response.status_code == 403
    assert "dismissed" in response.get_data(as_text=True)
    assert not _logged_in(client)


def test_dismissal_ends_an_open_session(app: Flask, client: FlaskClient,
                                        login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    assert _logged_in(client)
    _set_user(app, EMPLOYEE, active=False)
    assert not _logged_in(client)


def test_a_user_not_synced_yet_is_synced_at_login(app: Flask, client: FlaskClient,
                                                  login_as: LoginAs) -> None:
    with app.app_context():
        db.session.delete(db.session.scalars(
            select(PortalUser).where(PortalUser.email == EMPLOYEE)).one())
        db.session.commit()
    login_as(client, EMPLOYEE)
    page = client.get("/").get_data(as_text=True)
    assert "Ольга Никитина" in page
    assert _user(app, EMPLOYEE).department_ids == [3]


def test_admin_flag_comes_from_the_portal_at_login(app: Flask, client: FlaskClient,
                                                   login_as: LoginAs) -> None:
    _set_user(app, EMPLOYEE, is_admin=True)  # stale: the portal says she is no administrator
    login_as(client, EMPLOYEE)
    assert _user(app, EMPLOYEE).is_admin is False
    assert client.get("/events").status_code == 403


def test_logout_is_a_post_with_a_csrf_token(app: Flask, client: FlaskClient,
                                            login_as: LoginAs) -> None:
    login_as(client, ADMIN)
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.get("/auth/logout").status_code == 405
    refused = client.post("/auth/logout")
    assert refused.status_code == 400
    assert _logged_in(client)
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/auth/logout", data={"csrf_token": token})
    assert path_of(response.headers["Location"]) == "/auth/login"
    assert not _logged_in(client)


def test_session_from_another_browser_is_dropped(client: FlaskClient,
                                                 login_as: LoginAs) -> None:
    login_as(client, ADMIN)
    assert _logged_in(client)
    stolen = client.get("/", headers={"User-Agent": "another browser"})
    assert stolen.status_code == 302  # session protection "strong"


def test_every_response_carries_the_security_headers(client: FlaskClient) -> None:
    for path in ("/auth/login", "/", "/no-such-page", "/api/v1/users", "/api/v1/openapi.json"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path


def test_dismissal_on_the_portal_ends_the_session(demo_sim: Simulator, client: FlaskClient,
                                                  login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    assert _logged_in(client)
    demo_sim.call("user.update", {"ID": 5, "ACTIVE": "N"})  # Ольга Никитина leaves
    demo_sim.bus.flush()
    assert not _logged_in(client)


def test_session_and_login_cookies_are_secure_when_configured(
        app: Flask, client: FlaskClient, login_as: LoginAs) -> None:
    app.config["SESSION_COOKIE_SECURE"] = True  # PORTAL_EXT_SESSION_COOKIE_SECURE=1
    started = client.get("/auth/login/portal")
    login = next(c for c in started.headers.getlist("Set-Cookie")
                 if c.startswith("portal_ext_login="))
    assert "Secure" in login and "HttpOnly" in login and "SameSite=Lax" in login
    assert "Path=/auth/callback" in login and "Max-Age=600" in login
    response = login_as(client, ADMIN)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _session_cookie(client: FlaskClient) -> str:
    """The session cookie's value, as someone copying it from the browser would see it."""
    host = urlsplit(client.application.config["PORTAL_URL"]).hostname or "localhost"
    cookie = client.get_cookie("session", domain=host)
    assert cookie is not None
    return cookie.value


def _replay(client: FlaskClient, cookie: str) -> str:
    """Present a copied session cookie again; returns where the extension sends the visitor
    (the path of the redirect), or "" when the page is shown."""
    host = urlsplit(client.application.config["PORTAL_URL"]).hostname or "localhost"
    client.set_cookie("session", cookie, domain=host)
    response = client.get("/")
    return path_of(response.headers["Location"]) if response.status_code == 302 else ""


def test_a_cookie_copied_before_logout_is_refused_after_it(client: FlaskClient,
                                                           login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    copied = _session_cookie(client)
    assert _replay(client, copied) == ""
    client.post("/auth/logout")
    assert _replay(client, copied) == "/auth/login?next=%2F"


def test_logout_ends_the_users_sessions_in_other_browsers(app: Flask, login_as: LoginAs) -> None:
    laptop, phone = app.test_client(), app.test_client()
    login_as(laptop, EMPLOYEE)
    login_as(phone, EMPLOYEE)
    assert _logged_in(phone)
    laptop.post("/auth/logout")
    assert not _logged_in(phone)
    login_as(phone, EMPLOYEE)  # logging in again works
    assert _logged_in(phone)


def test_a_cookie_from_before_a_dismissal_stays_dead_after_rehiring(
        demo_sim: Simulator, client: FlaskClient, login_as: LoginAs) -> None:
    login_as(client, EMPLOYEE)
    copied = _session_cookie(client)
    demo_sim.call("user.update", {"ID": 5, "ACTIVE": "N"})  # Ольга Никитина leaves
    demo_sim.bus.flush()
    demo_sim.call("user.update", {"ID": 5, "ACTIVE": "Y"})  # and is taken back
    demo_sim.bus.flush()
    assert _replay(client, copied) == "/auth/login?next=%2F"
    login_as(client, EMPLOYEE)
    assert _logged_in(client)


def test_a_head_who_loses_the_department_is_logged_out_at_the_next_sync(
        app: Flask, demo_sim: Simulator, client: FlaskClient, login_as: LoginAs) -> None:
    from portal_ext.directory.services import sync_directory
    from portal_ext.portal.clock import host_utcnow
    from portal_ext.portal.registration import client_for, current_portal

    with app.app_context():
        head = db.session.scalars(select(PortalUser).where(PortalUser.portal_user_id == 11)).one()
        email = head.email
    login_as(client, email)
    assert client.get("/").status_code == 200
    copied = _session_cookie(client)
    other = app.test_client()
    login_as(other, ADMIN)
    demo_sim.call("department.update", {"ID": 5, "UF_HEAD": 12})  # no event exists for this
    with app.app_context():
        portal = current_portal()
        sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())
    assert _replay(client, copied) == "/auth/login?next=%2F"
    assert _logged_in(other)  # nobody else lost anything

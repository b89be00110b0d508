"""The portal's OAuth 2.0: the login form, codes, tokens and REST calls with ``auth``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from simulator import Simulator
from simulator.core import tables as core_tables
from simulator.users import tables as users_tables
from simulator.web import create_app
from tests.simulator.http_support import add_admin, add_user, probe_methods

CALLBACK = "http://ext.local/auth/callback"


@pytest.fixture
def client(sim: Simulator) -> Iterator[FlaskClient]:
    add_admin(sim)
    add_user(sim, 5, "anna@test.portal", password="anna-pass", name="Anna")
    sim.register_app("ext-app", "ext-secret", CALLBACK, name="Cover for absences")
    with probe_methods():
        yield create_app(sim).test_client()


def codes_issued(sim: Simulator) -> int:
    with sim.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(core_tables.oauth_codes))
                   .scalar_one())


def open_login(client: FlaskClient, state: str = "st4te") -> str:
    page = client.get(f"/oauth/authorize/?client_id=ext-app&state={state}"
                      f"&redirect_uri={CALLBACK}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Cover for absences" in html and 'type="password"' in html
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str, *, state: str = "st4te") -> Any:
    csrf = open_login(client, state)
    return client.post("/oauth/authorize/", data={
        "csrf_token": csrf, "client_id": "ext-app", "state": state, "redirect_uri": CALLBACK,
        "email": email, "password": password})


def code_from(response: Any) -> dict[str, str]:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def exchange(client: FlaskClient, code: str, *, method: str = "get") -> Any:
    params = {"grant_type": "authorization_code", "client_id": "ext-app",
              "client_secret": "ext-secret", "code": code}
    if method == "get":
        return client.get("/oauth/token/", query_string=params)
    return client.post("/oauth/token/", data=params)


def test_register_app_is_idempotent_and_returns_the_application_token(sim: Simulator) -> None:
    first = sim.register_app("app", "secret", "http://a.local/cb")
    again = sim.register_app("app", "secret2", "http://a.local/other")
    assert first == again == sim.application_token
    with sim.engine.connect() as conn:
        # (installed applications outlive resets, so a shared database may hold others)
        apps = core_tables.apps
        rows = conn.execute(select(apps).where(apps.c.client_id == "app")).mappings().all()
    assert len(rows) == 1
    assert (rows[0]["client_secret"], rows[0]["redirect_uri"]) == ("secret2", "http://a.local/other")


def test_full_login_code_token_and_rest_call(client: FlaskClient, sim: Simulator) -> None:
    redirect = code_from(sign_in(client, "Anna@test.portal", "anna-pass"))
    assert redirect["state"] == "st4te"
    assert redirect["member_id"] == sim.member_id
    assert redirect["domain"] == redirect["server_domain"] == "localhost"
    assert "crm" in redirect["scope"].split(",")

    tokens = exchange(client, redirect["code"], method="post").get_json()
    assert tokens["user_id"] == 5
    assert tokens["expires_in"] == 3600 and tokens["status"] == "L"
    assert tokens["client_endpoint"] == "http://localhost/rest/"
    assert tokens["member_id"] == sim.member_id
    assert set(tokens) >= {"access_token", "refresh_token", "expires", "scope", "domain",
                           "server_endpoint"}

    # REST calls act as the person who signed in
    answer = client.get(f"/rest/probe.echo?auth={tokens['access_token']}&x=1").get_json()
    assert answer["result"] == {"params": {"x": "1"}, "user_id": 5}
    posted = client.post("/rest/probe.echo.json", json={"auth": tokens["access_token"]})
    assert posted.get_json()["result"]["user_id"] == 5


def test_profile_answers_for_the_signed_in_user(client: FlaskClient) -> None:
    tokens = exchange(client, code_from(sign_in(client, "anna@test.portal", "anna-pass"))["code"]
                      ).get_json()
    response = client.get(f"/rest/profile?auth={tokens['access_token']}")
    assert response.status_code == 200, response.get_data(as_text=True)
    profile = response.get_json()["result"]
    assert str(profile["ID"]) == "5"
    assert profile["NAME"] == "Anna"


def test_wrong_password_shows_the_form_again_and_issues_nothing(client: FlaskClient,
                                                                sim: Simulator) -> None:
    response = sign_in(client, "anna@test.portal", "guess")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Incorrect e-mail or password." in html
    assert 'value="anna@test.portal"' in html  # the e-mail is kept for the next try
    assert codes_issued(sim) == 0


def test_a_dismissed_employee_cannot_sign_in(client: FlaskClient, sim: Simulator) -> None:
    with sim.engine.begin() as conn:
        conn.execute(users_tables.users.update().where(users_tables.users.c.id == 5)
                     .values(active=False))
    response = sign_in(client, "anna@test.portal", "anna-pass")
    assert response.status_code == 200
    assert "Incorrect e-mail or password." in response.get_data(as_text=True)
    assert codes_issued(sim) == 0


def test_a_code_works_once(client: FlaskClient) -> None:
    code = code_from(sign_in(client, "anna@test.portal", "anna-pass"))["code"]
    assert exchange(client, code).status_code == 200
    reused = exchange(client, code)
    assert reused.status_code == 400
    assert reused.get_json()["error"] == "invalid_grant"


def test_a_code_expires_after_thirty_seconds(client: FlaskClient, sim: Simulator) -> None:
    sim.clock.set(sim.clock.now())
    code = code_from(sign_in(client, "anna@test.portal", "anna-pass"))["code"]
    sim.clock.advance(31)
    assert exchange(client, code).get_json()["error"] == "invalid_grant"


def test_refresh_replaces_both_tokens(client: FlaskClient) -> None:
    code = code_from(sign_in(client, "anna@test.portal", "anna-pass"))["code"]
    first = exchange(client, code).get_json()
    renewed = client.post("/oauth/token/", data={
        "grant_type": "refresh_token", "client_id": "ext-app", "client_secret": "ext-secret",
        "refresh_token": first["refresh_token"]}).get_json()
    assert renewed["user_id"] == 5 and renewed["access_token"] != first["access_token"]
    old = client.get(f"/rest/probe.echo?auth={first['access_token']}")
    assert (old.status_code, old.get_json()["error"]) == (401, "invalid_token")
    assert client.get(f"/rest/probe.echo?auth={renewed['access_token']}").status_code == 200
    again = client.get("/oauth/token/", query_string={
        "grant_type": "refresh_token", "client_id": "ext-app", "client_secret": "ext-secret",
        "refresh_token": first["refresh_token"]})
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"


def test_an_access_token_expires_after_an_hour_of_portal_time(client: FlaskClient,
                                                               sim: Simulator) -> None:
    sim.clock.set(sim.clock.now())
    tokens = exchange(client, code_from(sign_in(client, "anna@test.portal", "anna-pass"))["code"]
                      ).get_json()
    sim.clock.advance(3601)
    response = client.get(f"/rest/probe.echo?auth={tokens['access_token']}")
    assert response.status_code == 401
    assert response.get_json() == {"error": "expired_token",
                                   "error_description": "The access token provided has expired."}


def test_token_endpoint_refuses_wrong_clients_and_grants(client: FlaskClient) -> None:
    code = code_from(sign_in(client, "anna@test.portal", "anna-pass"))["code"]
    wrong_secret = client.get("/oauth/token/", query_string={
        "grant_type": "authorization_code", "client_id": "ext-app", "client_secret": "nope",
        "code": code})
    assert (wrong_secret.status_code, wrong_secret.get_json()["error"]) == (400, "invalid_client")
    odd_grant = client.get("/oauth/token/", query_string={"grant_type": "password"})
    assert odd_grant.get_json()["error"] == "unsupported_grant_type"
    assert exchange(client, code).status_code == 200  # a refused attempt leaves the code usable


def test_unknown_application_or_foreign_redirect_gets_an_error_page(client: FlaskClient) -> None:
    unknown = client.get("/oauth/authorize/?client_id=stranger&state=x")
    assert unknown.status_code == 400
    assert "Unknown application" in unknown.get_data(as_text=True)
    foreign = client.get("/oauth/authorize/?client_id=ext-app&redirect_uri=http://evil.test/cb")
    assert foreign.status_code == 400


def test_the_login_form_needs_its_csrf_token(client: FlaskClient, sim: Simulator) -> None:
    open_login(client)
    response = client.post("/oauth/authorize/", data={
        "client_id": "ext-app", "state": "s", "redirect_uri": CALLBACK,
        "email": "anna@test.portal", "password": "anna-pass", "csrf_token": "forged"})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert codes_issued(sim) == 0


# -- headers and the login throttle ---------------------------------------------------------------
def test_the_login_form_carries_the_security_headers_and_no_inline_code(
        client: FlaskClient) -> None:
    page = client.get(f"/oauth/authorize/?client_id=ext-app&state=s&redirect_uri={CALLBACK}")
    headers = page.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # the form posts here and is redirected to the application's callback, nowhere else
    assert "form-action 'self' http://ext.local;" in policy
    html = page.get_data(as_text=True)
    assert "<style" not in html and "<script" not in html and " style=" not in html
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert stylesheet and client.get(stylesheet.group(1)).status_code == 200
    error = client.get("/oauth/authorize/?client_id=nobody")
    assert error.status_code == 400 and error.headers["X-Frame-Options"] == "DENY"


def test_wrong_passwords_lock_the_account_out_for_a_while(client: FlaskClient,
                                                          sim: Simulator) -> None:
    throttle = client.application.extensions["sim_login_throttle"]
    now = [1000.0]
    throttle.clock = lambda: now[0]
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert "Incorrect e-mail or password" in sign_in(
            client, "anna@test.portal", "guess").get_data(as_text=True)
    locked = sign_in(client, "ANNA@test.portal", "anna-pass")  # even the right password
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= throttle.WINDOW_SECONDS
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert codes_issued(sim) == 0
    code_from(sign_in(client, "admin@test.portal", "admin"))  # other accounts are not locked
    now[0] += throttle.WINDOW_SECONDS
    code_from(sign_in(client, "anna@test.portal", "anna-pass"))


def test_wrong_passwords_from_one_address_slow_down_every_account(client: FlaskClient) -> None:
    throttle = client.application.extensions["sim_login_throttle"]
    throttle.clock = lambda: 1000.0
    for attempt in range(throttle.ADDRESS_LIMIT):
        sign_in(client, f"nobody{attempt}@test.portal", "guess")
    assert sign_in(client, "anna@test.portal", "anna-pass").status_code == 429
    elsewhere = client.post  # the same form from another address still works
    csrf = open_login(client)
    answer = elsewhere("/oauth/authorize/", environ_base={"REMOTE_ADDR": "10.0.0.9"}, data={
        "csrf_token": csrf, "client_id": "ext-app", "state": "st4te", "redirect_uri": CALLBACK,
        "email": "anna@test.portal", "password": "anna-pass"})
    code_from(answer)

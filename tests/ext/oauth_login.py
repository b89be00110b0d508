"""Logging in the way a person does: the extension's "Log in with the portal" link, the
portal's own login form at /oauth/authorize/, and back to the extension's callback, which
exchanges the code with the portal server to server (routed to the portal's WSGI app)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

# The ``login_as`` fixture's type: login_as(client, email, password="demo", next_url=None).
LoginAs = Callable[..., Any]

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def portal_login_form(client: FlaskClient, *, next_url: str | None = None) -> tuple[str, dict]:
    """Follow the login button to the portal's form; returns its action path and hidden fields."""
    start = client.get("/auth/login/portal", query_string={"next": next_url} if next_url else {})
    assert start.status_code == 302, start.get_data(as_text=True)
    authorize = path_of(start.headers["Location"])
    assert authorize.startswith("/oauth/authorize/"), authorize
    form = client.get(authorize)
    assert form.status_code == 200, form.get_data(as_text=True)
    fields = {name: html.unescape(value)
              for name, value in _HIDDEN.findall(form.get_data(as_text=True))}
    return urlsplit(authorize).path, fields


def submit_portal_form(client: FlaskClient, action: str, fields: dict, email: str,
                       password: str) -> TestResponse:
    """Sign in on the portal's form; a correct login redirects to the extension's callback."""
    return client.post(action, data={**fields, "email": email, "password": password})


def oauth_login(client: FlaskClient, email: str, password: str = "demo", *,
                next_url: str | None = None) -> TestResponse:
    """The whole flow; returns the extension's answer to the callback (not followed)."""
    action, fields = portal_login_form(client, next_url=next_url)
    answer = submit_portal_form(client, action, fields, email, password)
    assert answer.status_code == 302, f"the portal refused {email}: {answer.status_code}"
    callback = path_of(answer.headers["Location"])
    assert callback.startswith("/auth/callback?"), callback
    return client.get(callback)

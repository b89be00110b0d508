"""``flask --app wsgi demo`` serves the portal at its own --host and --port, and other
``flask --app wsgi ...`` commands run beside it leave the portal's address alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

import demo
import wsgi
from simulator import Simulator, oauth

CLIENT_ID = "portal-ext"


@pytest.fixture
def environment(demo_sim: Simulator, ext_database_url: str,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """The environment of a shell without PORTAL_EXT_PORTAL_URL, both databases prepared;
    yields the (host, port) each demo would listen on (the server itself is not started)."""
    monkeypatch.setenv("PORTAL_SIM_DATABASE_URL", demo_sim.database_url)
    monkeypatch.setenv("PORTAL_EXT_DATABASE_URL", ext_database_url)
    monkeypatch.setenv("PORTAL_EXT_TASK_RUNNER", "inline")
    for name in ("PORTAL_EXT_PORTAL_URL", "PORTAL_SIM_CONTROL_TOKEN", "PORTAL_EXT_PORTAL_MODE"):
        monkeypatch.delenv(name, raising=False)
    served: list[tuple[str, int]] = []

    def run_simple(host: str, port: int, *_args: Any, **_kwargs: Any) -> None:
        served.append((host, port))

    monkeypatch.setattr(demo, "run_simple", run_simple)
    yield served


def _command_app() -> Flask:
    """What ``flask --app wsgi <command>`` builds."""
    flask_app, _simulated = wsgi.build_simulated()
    flask_app.config["TESTING"] = True
    flask_app.cli.add_command(demo.demo_command)
    return flask_app


def _registered(sim: Simulator) -> dict[str, Any]:
    """The extension's OAuth application as the portal has it registered."""
    registered = oauth.get_app(sim, CLIENT_ID)
    assert registered is not None
    return registered


def _run_demo(flask_app: Flask, *args: str) -> str:
    with flask_app.app_context():  # as the flask command gives every command
        result = flask_app.test_cli_runner().invoke(
            args=["demo", *args, "--life-interval", "0"])
    assert result.exit_code == 0, result.output
    return str(result.output)


def _login_redirect(flask_app: Flask, browser_at: str) -> tuple[str, dict[str, list[str]]]:
    """Where "Log in with the portal" sends a browser that opened the extension at
    ``browser_at``: the portal's login form, and the query it carries."""
    answer = flask_app.test_client().get("/auth/login/portal", base_url=browser_at)
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    return f"{target.scheme}://{target.netloc}{target.path}", parse_qs(target.query)


def test_the_demo_serves_the_portal_at_its_own_port(environment: list[tuple[str, int]],
                                                    demo_sim: Simulator) -> None:
    server = _command_app()
    output = _run_demo(server, "--port", "5077")
    assert environment == [("127.0.0.1", 5077)]
    assert "Portal webhook URL: http://127.0.0.1:5077/rest/1/testtoken/" in output
    assert "Extension:          http://127.0.0.1:5077/" in output
    assert ":5000" not in output
    assert re.search(r"^  admin@demo\.portal +admin ", output, re.M)  # who can log in
    authorize, query = _login_redirect(server, "http://127.0.0.1:5077")
    assert authorize == "http://127.0.0.1:5077/oauth/authorize/"
    assert query["redirect_uri"] == ["http://127.0.0.1:5077/auth/callback"]
    assert _registered(demo_sim)["redirect_uri"] == query["redirect_uri"][0]
    assert server.test_client().get("/_sim/clock").status_code == 200  # loopback: open


def test_a_command_beside_the_demo_leaves_its_login_alone(environment: list[tuple[str, int]],
                                                          demo_sim: Simulator) -> None:
    server = _command_app()
    _run_demo(server, "--port", "5077")
    beside = _command_app()  # flask --app wsgi token create ..., no PORTAL_EXT_PORTAL_URL
    result = beside.test_cli_runner().invoke(args=["token", "create", "admin@demo.portal"])
    assert result.exit_code == 0, result.output
    assert beside.test_cli_runner().invoke(args=["portal", "sync"]).exit_code == 0
    authorize, _query = _login_redirect(server, "http://127.0.0.1:5077")
    assert authorize == "http://127.0.0.1:5077/oauth/authorize/"
    assert _registered(demo_sim)["redirect_uri"] == (
        "http://127.0.0.1:5077/auth/callback")


def test_a_server_without_the_demo_registers_its_address_on_its_first_request(
        environment: list[tuple[str, int]], demo_sim: Simulator,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_EXT_PORTAL_URL", "http://portal.example.test:8000")
    served = _command_app()  # gunicorn wsgi:app
    assert oauth.get_app(demo_sim, CLIENT_ID) is None  # building it registers nothing
    authorize, _query = _login_redirect(served, "http://portal.example.test:8000")
    assert authorize == "http://portal.example.test:8000/oauth/authorize/"
    assert _registered(demo_sim)["redirect_uri"] == (
        "http://portal.example.test:8000/auth/callback")


def test_a_demo_beyond_loopback_prints_and_requires_a_control_token(
        environment: list[tuple[str, int]]) -> None:
    server = _command_app()
    output = _run_demo(server, "--host", "0.0.0.0", "--port", "5078")
    assert environment == [("0.0.0.0", 5078)]
    token = output.split("Control token:", 1)[1].split()[0]
    anyone = server.test_client()
    assert anyone.get("/_sim/settings").status_code == 401
    assert anyone.post("/_sim/reset").status_code == 401
    assert anyone.get("/_sim/settings", headers={"X-Sim-Token": token}).status_code == 200
    assert "Portal webhook URL: http://127.0.0.1:5078/rest/1/" in output

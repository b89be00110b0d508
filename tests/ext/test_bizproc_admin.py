"""The administrator's page "Portal application": not installed yet it gives the install
handler's address; once the portal has installed the extension (in simulated mode, server to
server through the portal's own HTTP endpoints), its button registers the robot, then updates
it. Other people may not see it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from portal_ext.robots.automation import ROBOT_CODE
from simulator import Simulator, bizproc
from simulator.core.caller import as_app
from tests.ext.oauth_login import LoginAs

ADMIN, EMPLOYEE = "admin@demo.portal", "o.nikitina@demo.portal"


def test_the_administrator_registers_the_robot_with_a_button(
        app: Flask, client: FlaskClient, login_as: LoginAs, demo_sim: Simulator) -> None:
    login_as(client, ADMIN)
    page = client.get("/bizproc/").get_data(as_text=True)
    assert "/bizproc/install" in page and "Register the robot" not in page

    client_id = app.config["OAUTH_CLIENT_ID"]
    installed = bizproc.install_app(demo_sim, client_id, f"{demo_sim.portal_url}/bizproc/install",
                                    session=app.config["PORTAL_HTTP_SESSION"])
    assert installed["status"] == 200, installed
    page = client.get("/bizproc/").get_data(as_text=True)
    assert "bizproc" in page and "Register the robot" in page

    assert client.post("/bizproc/register").status_code == 302
    page = client.get("/bizproc/").get_data(as_text=True)
    assert "The robot was added to the portal." in page and "Update the robot" in page
    assert client.post("/bizproc/register").status_code == 302
    assert "The robot was updated on the portal." in client.get("/bizproc/").get_data(
        as_text=True)
    with as_app(client_id):
        assert demo_sim.call("bizproc.robot.list")["result"] == [ROBOT_CODE]
    [robot] = bizproc.registered_robots(demo_sim)
    assert robot["handler"] == f"{demo_sim.portal_url}/bizproc/robot"
    assert robot["use_subscription"] == "Y" and set(robot["return_properties"]) == {"task_id"}
    assert set(robot["properties"]) == {"title", "description", "responsible", "working_hours",
                                        "policy"}

    other = app.test_client()
    login_as(other, EMPLOYEE)
    assert other.get("/bizproc/").status_code == 403

"""The deadline guard's pages: an administrator sets a policy with the form, a responsible
requests a change with the form, the approver approves with the request page's button, and
each role reaches only its pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal_ext.deadlines.models import DeadlineRequest
from portal_ext.extensions import db
from simulator import SimError, Simulator
from tests.ext.absences_support import EMAILS, NIKITINA, SMIRNOVA, TORG_HEAD
from tests.ext.test_deadlines import TORG_KOMS, _add_task, _deadline, _put

pytestmark = pytest.mark.dated


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" type="hidden" value="'
    if marker not in page:  # the test configuration may switch CSRF off
        return ""
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def _local(when: datetime) -> str:
    """``when`` (naive UTC) as a datetime-local field holds it in the portal's zone."""
    from portal_ext.portal.clock import portal_zone

    return when.replace(tzinfo=UTC).astimezone(portal_zone()).strftime("%Y-%m-%dT%H:%M")


def test_an_administrator_sets_a_policy_with_the_form(
        app: Flask, client: FlaskClient, login_as: Any) -> None:
    login_as(client, "admin@demo.portal")
    page = client.get("/deadlines/policies").get_data(as_text=True)
    assert "Deadline policies" in page
    answer = client.post("/deadlines/policies", data={
        "csrf_token": _csrf(page), "scope": f"department:{TORG_KOMS}",
        "mode": "approval_required", "max_postponements": "-2", "exempt_heads": "y"})
    assert answer.status_code == 422
    assert "whole number from 0 to 10000" in answer.get_data(as_text=True)
    answer = client.post("/deadlines/policies", data={
        "csrf_token": _csrf(page), "scope": f"department:{TORG_KOMS}",
        "mode": "approval_required", "max_postponements": "2", "exempt_heads": "y"})
    assert answer.status_code == 302
    listing = client.get("/deadlines/policies").get_data(as_text=True)
    assert "An approval is required" in listing and "Торг-Комс" in listing


def test_a_request_made_with_the_form_is_approved_with_the_button(
        app: Flask, client: FlaskClient, login_as: Any, admin: dict[str, str],
        demo_sim: Simulator, t0: datetime) -> None:
    _put(client, "default", admin, mode="approval_required")
    due = t0 + timedelta(days=3)
    task = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)

    login_as(client, EMAILS[NIKITINA])
    form = client.get(f"/deadlines/requests/new?task={task}").get_data(as_text=True)
    assert f'value="{task}"' in form
    refused = client.post("/deadlines/requests/new", data={
        "csrf_token": _csrf(form), "task_id": str(task),
        "new_deadline": _local(due + timedelta(days=2)), "reason": "no"})
    assert refused.status_code == 422 and "at least 10 characters" in refused.get_data(
        as_text=True)
    sent = client.post("/deadlines/requests/new", data={
        "csrf_token": _csrf(form), "task_id": str(task),
        "new_deadline": _local(due + timedelta(days=2)),
        "reason": "The supplier delays the delivery"})
    assert sent.status_code == 302
    with app.app_context():
        request_id = db.session.query(DeadlineRequest).one().id
    mine = client.get(f"/deadlines/requests/{request_id}").get_data(as_text=True)
    assert "pending" in mine and "Approve" not in mine  # nobody decides their own
    assert client.get("/deadlines/policies").status_code == 403

    client.get("/auth/logout")
    login_as(client, EMAILS[TORG_HEAD])
    page = client.get(f"/deadlines/requests/{request_id}").get_data(as_text=True)
    assert "Approve" in page and "The supplier delays the delivery" in page
    client.post(f"/deadlines/requests/{request_id}/approve",
                data={"csrf_token": _csrf(page), "reason": ""})
    assert "approved" in client.get(f"/deadlines/requests/{request_id}").get_data(as_text=True)
    assert _deadline(demo_sim, task) == due + timedelta(days=2)

    client.get("/auth/logout")
    login_as(client, EMAILS[SMIRNOVA])
    assert client.get(f"/deadlines/requests/{request_id}").status_code == 404
    assert "No deadline requests yet" in client.get("/deadlines/requests").get_data(
        as_text=True)


def test_the_report_page_and_its_csv(app: Flask, client: FlaskClient, login_as: Any,
                                     admin: dict[str, str], demo_sim: Simulator,
                                     t0: datetime) -> None:
    from tests.ext.absences_support import token
    from tests.ext.test_deadlines import _iso, _request

    _put(client, "default", admin, mode="reason_required")
    due = t0 + timedelta(days=3)
    task = _add_task(demo_sim, creator=TORG_HEAD, responsible=NIKITINA, deadline=due)
    _request(client, token(app, NIKITINA), task, _iso(due + timedelta(days=1)))
    with pytest.raises(SimError):  # vetoed on-site
        demo_sim.call("tasks.task.update", {"taskId": task, "fields": {
            "DEADLINE": _iso(due + timedelta(days=5))}}, user_id=NIKITINA)
    late = len(demo_sim.call("tasks.task.list", {"filter": {
        "RESPONSIBLE_ID": NIKITINA, "STATUS": -1}})["result"]["tasks"])  # the portal's count
    login_as(client, EMAILS[TORG_HEAD])
    page = client.get("/deadlines/report").get_data(as_text=True)
    assert "Ольга Никитина" in page
    chart = re.search(r'<figure class="chart[^"]*" id="chart-postponements".*?</figure>', page,
                      re.S)
    assert chart, "no chart"
    # Her bar: one accepted, one vetoed, each a segment with its own fill, named in the legend
    # and in the numbers table.
    assert f'data-key="{NIKITINA}" data-value="2"' in chart.group(0)
    segments = re.findall(r'<g class="chart-seg" data-segment="(\w+)" data-value="(\d+)">'
                          r'<title>[^<]*</title>\s*<path class="chart-seg-fill" '
                          r'fill="url\(#chart-postponements-p(\d)\)"', chart.group(0))
    assert segments == [("accepted", "1", "0"), ("vetoed", "1", "3")]
    assert re.search(r'<li data-segment="vetoed"><svg[^>]*>.*?</svg>Vetoed</li>',
                     chart.group(0), re.S)
    assert '<td class="count" data-segment="vetoed">1</td>' in chart.group(0)
    assert "Tasks overdue now" in page
    csv_text = client.get(f"/deadlines/report.csv?department={TORG_KOMS}").get_data(as_text=True)
    assert csv_text.splitlines()[0] == ("user_id,name,tasks,postponements,delay_days,"
                                        "share_without_reason,stopped_attempts,overdue_now")
    assert f"{NIKITINA},Ольга Никитина,1,1,1.0,0.0,1,{late}\r\n" in csv_text
    client.post("/language", data={"lang": "ru"})
    page = client.get("/deadlines/report").get_data(as_text=True)
    assert "Запрещён" in page and "Просрочено сейчас" in page


def test_the_requests_grid_and_dropping_a_policy_asks_first(
        app: Flask, client: FlaskClient, login_as: Any, admin: dict[str, str],
        demo_sim: Simulator, t0: datetime) -> None:
    from tests.ext.absences_support import FEDOROV, token
    from tests.ext.confirm_support import asked, confirmed, lines
    from tests.ext.test_deadlines import _iso, _request

    _put(client, "default", admin, mode="approval_required")
    _put(client, f"departments/{TORG_KOMS}", admin, mode="reason_required")
    due = t0 + timedelta(days=3)
    for who, title in ((NIKITINA, "Prepare the offer"), (FEDOROV, "Prepare the offer")):
        task = _add_task(demo_sim, creator=TORG_HEAD, responsible=who, deadline=due)
        _request(client, token(app, who), task, _iso(due + timedelta(days=1)),
                 f"{title}: the client asked for a later date")
    login_as(client, EMAILS[TORG_HEAD])
    page = client.get("/deadlines/requests").get_data(as_text=True)
    assert "Ольга Никитина" in page and "Алексей Фёдоров" in page
    only = client.get(f"/deadlines/requests?user={FEDOROV}&state=applied").get_data(
        as_text=True)
    assert "Алексей Фёдоров" in only and "Ольга Никитина" not in only.split("<table", 1)[1]
    assert client.get("/deadlines/requests?state=sometimes").status_code == 400
    csv_text = client.get("/deadlines/requests?q=никитина&format=csv").get_data(as_text=True)
    assert len(csv_text.strip().splitlines()) == 2 and "Ольга Никитина" in csv_text

    client.get("/auth/logout")
    login_as(client, "admin@demo.portal")
    path = f"/deadlines/policies/departments/{TORG_KOMS}/delete"
    question, _ = asked(client, path)
    assert "Drop the deadline policy" in lines(question)
    assert "An approval is required" in lines(question)  # what the department gets instead
    assert client.get("/api/v1/deadline-policies", headers=admin).get_json()["departments"]
    assert confirmed(client, path).status_code == 302
    assert client.get("/api/v1/deadline-policies", headers=admin).get_json()[
        "departments"] == []

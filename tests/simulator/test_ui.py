"""The portal's own pages, as a person in a demo sees them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from simulator import Simulator
from simulator.crm import tables as crm_tables
from simulator.tasks import tables as tasks_tables
from simulator.web import create_app

C = crm_tables.crm_items


@pytest.fixture
def client(demo_sim: Simulator) -> Iterator[FlaskClient]:
    app = create_app(demo_sim, control_token="x", secret_key="test")
    app.config["TESTING"] = True
    with app.test_client() as test_client:
        yield test_client


def first(sim: Simulator, stmt: Any) -> Any:
    with sim.engine.connect() as conn:
        return conn.execute(stmt.limit(1)).first()


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_people_page_lists_everyone_with_departments(client: FlaskClient) -> None:
    html = page(client, "/portal/")
    assert "Portal (simulator)" in html
    for name in ("Дмитрий Соколов", "Ольга Никитина", "Игорь Павлов", "Максим Орлов"):
        assert name in html
    assert "Торг-Комс (спецтехника и оборудование)" in html and "Маркетинг" in html
    assert html.count('class="person"') == 12


def test_company_list_is_paged_and_filtered(client: FlaskClient, demo_sim: Simulator) -> None:
    assert "1–50 of 200" in page(client, "/portal/crm/companies")
    last = page(client, "/portal/crm/companies?page=4")
    assert "151–200 of 200" in last and "Next" not in last
    mine = page(client, "/portal/crm/companies?responsible=5")
    with demo_sim.engine.connect() as conn:
        theirs = conn.execute(select(C.c.title).where(C.c.entity_type_id == 4,
                                                      C.c.assigned_by_id == 5)).scalars().all()
    assert f"of {len(theirs)}</span>" in mine
    category_a = page(client, "/portal/crm/companies?category=1")
    assert 'cat-A">A' in category_a and 'cat-B">B' not in category_a


def test_entity_pages_show_fields_and_history(client: FlaskClient, demo_sim: Simulator) -> None:
    for kind in ("leads", "deals", "contacts", "quotes", "invoices"):
        page(client, f"/portal/crm/{kind}")
    activities = crm_tables.activities
    call = first(demo_sim, select(activities).where(activities.c.owner_type_id == 4,
                                                    activities.c.type_id == 2))
    company = page(client, f"/portal/crm/companies/{call.owner_id}")
    assert call.subject in company and "UF_CRM_CATEGORY" in company
    deal = first(demo_sim, select(C).where(C.c.entity_type_id == 2))
    assert deal.title in page(client, f"/portal/crm/deals/{deal.id}")
    with demo_sim.engine.connect() as conn:
        task = next(t for t in conn.execute(select(tasks_tables.tasks)) if t.uf_crm_task)
    task_page = page(client, f"/portal/tasks/{task.id}")
    assert task.title in task_page and "History" in task_page and "NEW" in task_page
    bound_to = task.uf_crm_task[0].split("_")[1]
    assert "/portal/crm/" in task_page and f"/{bound_to}\"" in task_page
    assert client.get("/portal/crm/companies/999999").status_code == 404
    assert client.get("/portal/crm/robots").status_code == 404


def test_lists_of_tasks_activities_and_absences(client: FlaskClient) -> None:
    assert "Completed" in page(client, "/portal/tasks")
    page(client, "/portal/tasks?overdue=1&responsible=5")
    missed = page(client, "/portal/activities?type=2&outcome=304")
    assert "missed" in missed and "connected</span>" not in missed
    chart = page(client, "/portal/absences")
    assert "Ольга Никитина" in chart and "starts in" in chart and "Vacation" in chart


def test_inbox_shows_a_new_notification_live(client: FlaskClient, demo_sim: Simulator) -> None:
    assert page(client, "/portal/users/5/inbox").count("data-id=") == 0
    assert client.get("/portal/users/5/inbox.json").get_json()["items"] == []
    deal = first(demo_sim, select(C).where(C.c.entity_type_id == 2))
    with demo_sim.transaction() as ctx:
        ctx.notify(5, f"Deal [B]moved[/B]: [URL=/crm/deal/details/{deal.id}/]{deal.title}[/URL] "
                      "<script>alert(1)</script>", kind="crm_assigned", entity_type="DEAL",
                   entity_id=deal.id, from_user_id=4)
    data = client.get("/portal/users/5/inbox.json").get_json()
    assert data["unread"] == 1
    item = data["items"][0]
    assert item["kind"] == "crm_assigned" and item["from"] == "Сергей Морозов"
    assert "<strong>moved</strong>" in item["html"] and "<script>" not in item["html"]
    assert f'href="/portal/crm/deals/{deal.id}"' in item["html"]
    assert item["url"] == f"/portal/crm/deals/{deal.id}"
    assert client.get("/portal/unread.json").get_json() == {"5": 1}
    assert "moved" in page(client, "/portal/users/5/inbox")
    assert client.post("/portal/users/5/inbox/read").status_code == 400  # no CSRF token
    assert client.get("/portal/users/5/inbox.json").get_json()["unread"] == 1
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      page(client, "/portal/users/5/inbox"))
    assert token is not None
    client.post("/portal/users/5/inbox/read", data={"csrf_token": token.group(1)})
    assert client.get("/portal/users/5/inbox.json").get_json()["unread"] == 0
    assert client.get("/portal/users/999/inbox.json").status_code == 404


def test_the_portal_pages_carry_the_security_headers_and_no_inline_code(
        client: FlaskClient, demo_sim: Simulator) -> None:
    for url in ("/portal/", "/portal/users/1/inbox", "/portal/crm/companies", "/portal/tasks",
                "/portal/activities", "/portal/absences"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["X-Frame-Options"] == "DENY", url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "form-action 'self';" in policy, url
        html = response.get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and "<style" not in html, url
        for script in re.findall(r'<script src="([^"]+)"', html):
            assert client.get(script).status_code == 200, script

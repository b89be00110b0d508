"""Lead distribution end to end against the demo portal: service lines and settings, a visit
report's deals, main manager, control task, conversion and notices, exactly once; bad input
refused naming the field; roles."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal_ext.distribution.models import ServiceLine, VisitReport
from portal_ext.extensions import db
from simulator import Simulator
from tests.ext.absences_support import token
from tests.ext.distribution_support import (
    CONTAINER_PEOPLE,
    EQUIPMENT,
    EQUIPMENT_PEOPLE,
    LINES,
    MARKETING_PEOPLE,
    new_lead,
    portal_deals,
    set_up_lines,
)

pytestmark = pytest.mark.dated
FEDOROV, REPRESENTATIVE = 6, 7


def test_a_visit_report_makes_one_deal_per_line_a_main_manager_and_a_control_task(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    from portal_ext.directory.models import PortalUser

    lines = set_up_lines(client, admin)
    with app.app_context():  # the equipment people read Russian, the marketing people English
        for user in db.session.scalars(select(PortalUser).where(PortalUser.portal_user_id.in_(
                EQUIPMENT_PEOPLE + MARKETING_PEOPLE))):
            user.language = "ru" if user.portal_user_id in EQUIPMENT_PEOPLE else "en"
        db.session.commit()
    assert [line["stage_id"] for line in lines] == ["NEW", "C1:NEW", "NEW"]
    assert client.put("/api/v1/distribution/settings", headers=admin, json={
        "default_strategy": "least_loaded", "main_strategy": "priority"}).status_code == 200
    lead = new_lead(demo_sim)
    response = client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": lead, "lines": [line["id"] for line in lines], "comment": "Needs all three"})
    assert response.status_code == 202, response.get_json()
    report = client.get(response.headers["Location"], headers=admin).get_json()
    assert report["state"] == "done"
    deals = {d["line_id"]: d["deal_id"] for d in report["deals"]}
    assert len(deals) == 3
    picked = {d["line_id"]: d["chosen_id"] for d in report["decisions"]}
    assert picked[lines[0]["id"]] in EQUIPMENT_PEOPLE
    assert picked[lines[1]["id"]] in CONTAINER_PEOPLE
    assert picked[lines[2]["id"]] in MARKETING_PEOPLE
    assert report["main_manager_id"] == picked[lines[0]["id"]]  # the first line's priority
    for line in lines:
        deal = demo_sim.call("crm.item.get", {"entityTypeId": 2,
                                              "id": deals[line["id"]]})["result"]["item"]
        assert (deal["categoryId"], deal["stageId"]) == (line["category_id"], line["stage_id"])
        assert deal["assignedById"] == picked[line["id"]] and deal["leadId"] == lead
        assert sorted(deal["observers"]) == sorted(
            u for u in picked.values() if u != picked[line["id"]])
        assert deal["companyId"] > 0
        if line is lines[0]:  # each deal speaks its manager's language
            assert "(главный менеджер — " in deal["title"], deal["title"]
            assert deal["comments"].startswith(f"Отчёт о визите №{report['id']}; главный")
            assert "Комментарий представителя: Needs all three" in deal["comments"]
        elif line is lines[2]:
            assert "(main manager " in deal["title"], deal["title"]
            assert "The representative's comment: Needs all three" in deal["comments"]
    task = demo_sim.call("tasks.task.get", {"taskId": report["control_task_id"],
                                            "select": ["ID", "RESPONSIBLE_ID", "TITLE",
                                                       "DESCRIPTION",
                                                       "UF_CRM_TASK"]})["result"]["task"]
    assert int(task["responsibleId"]) == report["main_manager_id"]  # reads Russian
    assert task["title"].startswith(f"Отчёт о визите №{report['id']}: "), task["title"]
    assert "Комментарий представителя: Needs all three" in task["description"]
    assert sorted(task["ufCrmTask"]) == sorted(f"D_{d}" for d in deals.values())
    assert demo_sim.call("crm.lead.get", {"id": lead})["result"]["STATUS_ID"] == "CONVERTED"
    # The same report again: the first one, nothing created twice.
    again = client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": lead, "lines": [lines[0]["id"]]})
    assert again.status_code == 200 and again.get_json()["id"] == report["id"]
    assert len(portal_deals(demo_sim, report["id"])) == 3
    decisions = client.get(f"/api/v1/distribution/decisions?department={EQUIPMENT}",
                           headers=admin).get_json()["items"]
    assert [d["report_id"] for d in decisions] == [report["id"]]
    assert all(c["load"] >= 0 for c in decisions[0]["candidates"])


def test_a_resumed_run_finds_the_deals_it_created(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    lines = set_up_lines(client, admin)
    lead = new_lead(demo_sim)
    report_id = client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": lead, "lines": [lines[0]["id"], lines[1]["id"]]}).get_json()["id"]
    with app.app_context():  # a crash after the portal created, before the ids were kept
        report = db.session.get(VisitReport, report_id)
        assert report is not None
        report.deals, report.control_task_id, report.state = {}, None, "failed"
        report.lead_converted, report.notified = False, []
        db.session.commit()
    assert client.get(f"/distribution/reports/{report_id}").status_code in (302, 401)
    with app.app_context():
        from portal_ext.distribution.tasks import run_report

        assert run_report(report_id) == "done"
    assert len(portal_deals(demo_sim, report_id)) == 2
    tasks = demo_sim.call("tasks.task.list", {"filter": {
        "UF_CRM_TASK": f"D_{portal_deals(demo_sim, report_id)[0]['ID']}"}})["result"]["tasks"]
    assert len(tasks) == 1


def test_absent_and_dismissed_are_never_picked_and_the_head_steps_in(
        client: FlaskClient, admin: dict[str, str], demo_sim: Simulator, day: object) -> None:
    lines = set_up_lines(client, admin)
    for person in (9, 10):  # the whole containers department away for the week
        response = client.post("/api/v1/absences", headers=admin, json={
            "user_id": person, "kind": "vacation",
            "start": day(-1), "end": day(6)})  # type: ignore[operator]
        assert response.status_code == 201, response.get_json()
    lead = new_lead(demo_sim)
    report = client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": lead, "lines": [lines[1]["id"]]}).get_json()
    decision = report["decisions"][0]
    assert decision["chosen_id"] == 8 and decision["fallback"] == "head"
    assert {c["user_id"]: c["skipped"] for c in decision["candidates"]} == {
        9: "absent", 10: "absent"}


def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    lines = set_up_lines(client, admin)
    lead = new_lead(demo_sim)
    cases = [({"lead_id": 999999, "lines": [lines[0]["id"]]}, 404, "lead_id"),
             ({"lead_id": lead, "lines": []}, 422, "lines"),
             ({"lead_id": lead, "lines": [9999]}, 422, "lines"),
             ({"lead_id": lead, "lines": [lines[0]["id"]], "visited_at": "soon"}, 422,
              "visited_at"),
             ({"lines": [lines[0]["id"]]}, 422, "lead_id")]
    for body, status, field in cases:
        response = client.post("/api/v1/visit-reports", headers=admin, json=body)
        assert response.status_code == status, (body, response.get_json())
        assert response.get_json()["error"]["field"] == field
    demo_sim.call("crm.lead.update", {"id": lead, "fields": {"STATUS_ID": "CONVERTED"}})
    converted = client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": lead, "lines": [lines[0]["id"]]})
    assert converted.status_code == 409 and converted.get_json()["error"]["field"] == "lead_id"
    bad_lines = [
        ({**LINES[0], "department_id": 999}, "lines[0].department_id"),
        ({**LINES[0], "category_id": 77}, "lines[0].category_id"),
        ({**LINES[1], "stage_id": "NEW"}, "lines[0].stage_id"),
        ({**LINES[0], "name": ""}, "lines[0].name"),
        ({**LINES[0], "id": 9999}, "lines[0].id")]
    for line, field in bad_lines:
        response = client.put("/api/v1/service-lines", headers=admin, json={"lines": [line]})
        assert response.status_code == 422 and response.get_json()["error"]["field"] == field
    assert client.put("/api/v1/distribution/settings", headers=admin, json={
        "default_quota": 0}).get_json()["error"]["field"] == "default_quota"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(VisitReport)) == 0
        assert db.session.scalar(select(func.count()).select_from(ServiceLine)) == 3
    # A department with nobody and no fallback: everyone in marketing dismissed, no head.
    for person in MARKETING_PEOPLE:
        demo_sim.call("user.update", {"ID": person, "ACTIVE": "N"})
    with app.app_context():
        from portal_ext.directory.services import sync_directory
        from portal_ext.portal.clock import host_utcnow
        from portal_ext.portal.registration import client_for, current_portal

        portal = current_portal()
        sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())
    other = new_lead(demo_sim, "Another")
    response = client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": other, "lines": [lines[2]["id"]]})
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "lines"


def test_a_line_a_report_names_is_retired_not_removed(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    lines = set_up_lines(client, admin)
    client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": new_lead(demo_sim), "lines": [lines[0]["id"]]})
    kept = {**LINES[2], "id": lines[2]["id"], "name": "Promotion and events"}
    response = client.put("/api/v1/service-lines", headers=admin, json={"lines": [kept]})
    assert response.get_json()["lines"] == [{**kept}]
    with app.app_context():
        rows = {line.id: line.retired for line in db.session.scalars(select(ServiceLine))}
    assert rows == {lines[0]["id"]: True, lines[2]["id"]: False}


def _portal_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    from portal_ext.portal.client import PortalClient

    calls: list[tuple[str, dict[str, Any]]] = []
    original = PortalClient.call_raw

    def counted(self: PortalClient, method: str, params: Any = None) -> Any:
        calls.append((method, dict(params or {})))
        return original(self, method, params)

    monkeypatch.setattr(PortalClient, "call_raw", counted)
    return calls


def test_a_reports_writes_go_in_one_batch_with_the_company_and_contact_made_from_the_lead(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lines = set_up_lines(client, admin)
    lead = demo_sim.call("crm.lead.add", {"fields": {
        "TITLE": "Walk-in", "NAME": "Pavel", "LAST_NAME": "Sidorov", "COMPANY_TITLE": "Acme",
        "PHONE": [{"VALUE": "+7 900 000 00 01", "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": "pavel@acme.test", "VALUE_TYPE": "WORK"}]}})["result"]
    calls = _portal_calls(monkeypatch)
    response = client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": lead, "lines": [line["id"] for line in lines],
        "client": {"company": "Acme Machinery", "phone": "+7 900 000 00 02"}})
    assert response.status_code == 202, response.get_json()
    report = client.get(response.headers["Location"], headers=admin).get_json()
    assert report["state"] == "done" and len(report["deals"]) == 3
    assert report["client"] == {"company": "Acme Machinery", "contact": "Pavel Sidorov",
                                "phone": "+7 900 000 00 02", "email": "pavel@acme.test"}
    writes = [params["cmd"] for method, params in calls
              if method == "batch" and any("crm.item.add" in c for c in params["cmd"].values())]
    assert len(writes) == 1  # deals, company, contact, task, lead, notices: one request
    sent = [command.split("?")[0] for command in writes[0].values()]
    assert sent.count("crm.item.add") == 3 and sent.count("im.notify.system.add") == 3
    assert {"crm.company.add", "crm.contact.add", "tasks.task.add", "crm.lead.update"} <= set(
        sent)
    # Besides, once per portal, the main-manager field is made before the first report.
    assert [m for m, _ in calls if m != "batch" and m.split(".")[-1] in ("add", "update")] \
        == ["crm.deal.userfield.add"]
    company = demo_sim.call("crm.company.get", {"id": report["company_id"]})["result"]
    contact = demo_sim.call("crm.contact.get", {"id": report["contact_id"]})["result"]
    assert company["TITLE"] == "Acme Machinery"
    assert (contact["NAME"], contact["LAST_NAME"]) == ("Pavel", "Sidorov")
    assert [p["VALUE"] for p in contact["PHONE"]] == ["+7 900 000 00 02"]
    assert [e["VALUE"] for e in contact["EMAIL"]] == ["pavel@acme.test"]
    converted = demo_sim.call("crm.lead.get", {"id": lead})["result"]
    assert converted["STATUS_ID"] == "CONVERTED"
    assert int(converted["COMPANY_ID"]) == report["company_id"]
    field = demo_sim.call("crm.deal.userfield.list", {"filter": {
        "FIELD_NAME": "UF_CRM_MAIN_MANAGER"}})["result"]
    assert [f["USER_TYPE_ID"] for f in field] == ["employee"]
    for deal in report["deals"]:
        row = demo_sim.call("crm.deal.get", {"id": deal["deal_id"]})["result"]
        assert int(row["UF_CRM_MAIN_MANAGER"]) == report["main_manager_id"]
        assert (int(row["COMPANY_ID"]), row["CONTACT_IDS"]) == (
            report["company_id"], [str(report["contact_id"])])
    # A crash after the portal wrote and before the ids were kept: the run looks up and
    # finds everything, the lead now names its company and contact: nothing is made twice.
    with app.app_context():
        row = db.session.get(VisitReport, report["id"])
        assert row is not None
        row.deals, row.control_task_id, row.state, row.company_id = {}, None, "failed", None
        row.contact_id, row.lead_converted, row.notified = None, False, []
        db.session.commit()
        from portal_ext.distribution.tasks import run_report

        calls.clear()
        assert run_report(report["id"]) == "done"
    again = client.get(response.headers["Location"], headers=admin).get_json()
    assert again["deals"] == report["deals"]
    assert (again["company_id"], again["contact_id"], again["control_task_id"]) == (
        report["company_id"], report["contact_id"], report["control_task_id"])
    sent_now = [(m, p) for m, p in calls if m != "server.time"]  # the clock is not a call
    assert [m for m, _ in sent_now] == ["batch", "batch"]  # the look-up, then the rest
    assert sorted(c.split("?")[0] for c in sent_now[1][1]["cmd"].values()) == [
        "crm.lead.update", *["im.notify.system.add"] * 3]
    assert demo_sim.call("crm.company.list", {"filter": {"TITLE": "Acme Machinery"}})[
        "total"] == 1


def test_an_existing_contact_takes_the_edited_phone(
        client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    lines = set_up_lines(client, admin)
    lead = new_lead(demo_sim)
    before = demo_sim.call("crm.lead.get", {"id": lead})["result"]
    report = client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": lead, "lines": [lines[1]["id"]],
        "client": {"phone": "+7 495 000 00 03"}}).get_json()
    assert report["company_id"] == int(before["COMPANY_ID"])
    assert report["contact_id"] == int(before["CONTACT_ID"])
    contact = demo_sim.call("crm.contact.get", {"id": before["CONTACT_ID"]})["result"]
    assert "+7 495 000 00 03" in [p["VALUE"] for p in contact["PHONE"]]
    bad = client.post("/api/v1/visit-reports", headers=admin, json={
        "lead_id": new_lead(demo_sim, "Other"), "lines": [lines[1]["id"]],
        "client": {"email": "nobody"}})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "client.email"


HEAD_OF_EQUIPMENT, HEAD_OF_CONTAINERS = 4, 8


def test_roles(app: Flask, client: FlaskClient, admin: dict[str, str],
               demo_sim: Simulator) -> None:
    """Admin: everything; the lead's representative and the head of their department: file
    and see its report; the head of another department: neither, nor its decisions; an
    employee: nothing."""
    lines = set_up_lines(client, admin)
    employee = token(app, FEDOROV)
    assert client.get("/api/v1/service-lines", headers=employee).status_code == 403
    assert client.get("/api/v1/distribution/settings", headers=employee).status_code == 403
    assert client.get("/api/v1/distribution/decisions", headers=employee).status_code == 403
    client.put("/api/v1/distribution/settings", headers=admin, json={
        "representative_ids": [REPRESENTATIVE], "visit_tasks": True})
    lead = new_lead(demo_sim)  # its visit task goes to the representative (equipment)
    body = {"lead_id": lead, "lines": [lines[0]["id"]]}
    for who in (employee, token(app, HEAD_OF_CONTAINERS)):
        refused = client.post("/api/v1/visit-reports", headers=who, json=body)
        assert refused.status_code == 403 and refused.get_json()["error"]["field"] == "lead_id"
    head = token(app, HEAD_OF_EQUIPMENT)
    report = client.post("/api/v1/visit-reports", headers=head, json=body)
    assert report.status_code == 202, report.get_json()
    location = report.headers["Location"]
    for who, status in ((admin, 200), (head, 200), (token(app, REPRESENTATIVE), 200),
                        (token(app, HEAD_OF_CONTAINERS), 404), (employee, 404)):
        assert client.get(location, headers=who).status_code == status
    seen = {uid: [d["report_id"] for d in client.get(
        "/api/v1/distribution/decisions", headers=token(app, uid)).get_json()["items"]]
        for uid in (HEAD_OF_EQUIPMENT, HEAD_OF_CONTAINERS)}
    assert seen == {HEAD_OF_EQUIPMENT: [report.get_json()["id"]], HEAD_OF_CONTAINERS: []}
    # The representative files their own lead; someone else's lead is refused to them.
    own = client.post("/api/v1/visit-reports", headers=token(app, REPRESENTATIVE), json={
        "lead_id": new_lead(demo_sim, "Own"), "lines": [lines[0]["id"]]})
    assert own.status_code == 202
    client.put("/api/v1/distribution/settings", headers=admin, json={
        "representative_ids": [REPRESENTATIVE, FEDOROV]})
    theirs = new_lead(demo_sim, "Fedorov's")  # in turn: the other representative's task
    with app.app_context():
        from portal_ext.distribution.models import VisitTask

        visitor = db.session.scalars(select(VisitTask.representative_id).where(
            VisitTask.lead_id == theirs)).one()
    other = REPRESENTATIVE if visitor == FEDOROV else FEDOROV
    refused = client.post("/api/v1/visit-reports", headers=token(app, other), json={
        "lead_id": theirs, "lines": [lines[0]["id"]]})
    assert refused.status_code == 403


def test_the_quota_holds_over_a_day(client: FlaskClient, admin: dict[str, str],
                                    demo_sim: Simulator) -> None:
    lines = set_up_lines(client, admin)
    client.put("/api/v1/distribution/settings", headers=admin, json={
        "strategies": {"4": {"strategy": "round_robin", "quota": 1}}})
    chosen = []
    for n in range(3):
        report = client.post("/api/v1/visit-reports", headers=admin, json={
            "lead_id": new_lead(demo_sim, f"Lead {n}"), "lines": [lines[1]["id"]]}).get_json()
        chosen.append((report["decisions"][0]["chosen_id"], report["decisions"][0]["fallback"]))
    assert sorted(chosen[:2]) == [(9, None), (10, None)]
    assert chosen[2] == (8, "head")


def test_a_new_lead_gets_a_visit_task_once_switched_on(
        client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    before = new_lead(demo_sim, "Before the switch")
    assert client.put("/api/v1/distribution/settings", headers=admin, json={
        "visit_tasks": True, "representative_ids": [REPRESENTATIVE, FEDOROV],
        "visit_title": "Visit {lead}"}).status_code == 200
    lead = new_lead(demo_sim, "Fresh lead")
    other = new_lead(demo_sim, "Second fresh lead")
    for lead_id, title in ((lead, "Visit Fresh lead"), (other, "Visit Second fresh lead")):
        tasks = demo_sim.call("tasks.task.list", {"filter": {"UF_CRM_TASK": f"L_{lead_id}"},
                                                  "select": ["ID", "TITLE", "RESPONSIBLE_ID",
                                                             "DESCRIPTION"]})["result"]["tasks"]
        assert [t["title"] for t in tasks] == [title]
        assert f"/distribution/reports/new?lead_id={lead_id}" in tasks[0]["description"]
    responsible = {int(demo_sim.call("tasks.task.list", {"filter": {
        "UF_CRM_TASK": f"L_{lead_id}"}, "select": ["RESPONSIBLE_ID"]})["result"]["tasks"][0][
        "responsibleId"]) for lead_id in (lead, other)}
    assert responsible == {REPRESENTATIVE, FEDOROV}  # in turn
    assert demo_sim.call("tasks.task.list", {"filter": {
        "UF_CRM_TASK": f"L_{before}"}})["result"]["tasks"] == []


def test_the_demo_set_up_maps_the_demo_departments(
        app: Flask, client: FlaskClient, admin: dict[str, str], demo_sim: Simulator) -> None:
    from portal_ext.distribution.demo_setup import set_up_demo
    from portal_ext.portal.clock import host_utcnow
    from portal_ext.portal.registration import client_for, current_portal

    with app.app_context():
        portal = current_portal()
        assert set_up_demo(portal=portal, client=client_for(portal), actor=None,
                           now=host_utcnow()) == 3
        assert set_up_demo(portal=portal, client=client_for(portal), actor=None,
                           now=host_utcnow()) == 0  # never over an existing set-up
    lines = client.get("/api/v1/service-lines", headers=admin).get_json()["lines"]
    assert [(line["department_id"], line["stage_id"]) for line in lines] == [
        (3, "NEW"), (4, "C1:NEW"), (5, "NEW")]
    settings = client.get("/api/v1/distribution/settings", headers=admin).get_json()
    assert len(settings["representative_ids"]) == 2 and settings["visit_tasks"] is True

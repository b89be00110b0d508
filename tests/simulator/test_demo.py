"""The demo portal: the company from seed 004 as a person opening the portal would find it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from simulator import SimError, Simulator
from simulator.calendar import tables as calendar_tables
from simulator.crm import tables as crm_tables
from simulator.scenarios.demo import load_demo
from simulator.tasks import tables as tasks_tables
from simulator.users import tables as users_tables

C, A, B = crm_tables.crm_items, crm_tables.activities, crm_tables.activity_bindings


def rows(sim: Simulator, stmt: Any) -> list[Any]:
    with sim.engine.connect() as conn:
        return list(conn.execute(stmt).all())


def count(sim: Simulator, table: Any, *where: Any) -> int:
    return int(rows(sim, select(func.count()).select_from(table).where(*where))[0][0])


def test_twelve_people_in_a_department_tree_with_heads(demo_sim: Simulator) -> None:
    users = rows(demo_sim, select(users_tables.users))
    assert len(users) == 12
    assert all(u.email.endswith("@demo.portal") and u.work_position for u in users)
    # Hash checks are slow on purpose: check each distinct hash once.
    assert all(check_password_hash(h, "demo") for h in {u.password_hash for u in users})
    departments = {d.id: d for d in rows(demo_sim, select(users_tables.departments))}
    roots = [d for d in departments.values() if d.parent is None]
    assert len(roots) == 1
    user_ids = {u.id for u in users}
    assert all(d.head in user_ids for d in departments.values())
    # Sales is split into two business lines, each a sub-department with its own head.
    sales = next(d for d in departments.values() if d.name == "Отдел продаж")
    lines = [d for d in departments.values() if d.parent == sales.id]
    assert len(lines) == 2 and len({d.head for d in lines}) == 2
    for line in lines:  # the head works in the line they lead
        head = next(u for u in users if u.id == line.head)
        assert line.id in head.departments


def test_user_1_is_the_administrator_and_can_log_in(demo_sim: Simulator) -> None:
    admin = rows(demo_sim, select(users_tables.users).where(users_tables.users.c.id == 1))[0]
    assert admin.is_admin and admin.active
    assert admin.email == "admin@demo.portal"
    assert check_password_hash(admin.password_hash, "demo")
    assert demo_sim.check_webhook(1, "testtoken")
    assert count(demo_sim, users_tables.users, users_tables.users.c.is_admin.is_(True)) == 1


def test_about_200_client_companies_each_with_a_category(demo_sim: Simulator) -> None:
    companies = rows(demo_sim, select(C).where(C.c.entity_type_id == 4))
    assert len(companies) == 200
    categories = Counter(c.fields.get("UF_CRM_CATEGORY") for c in companies)
    assert set(categories) == {"1", "2", "3", None} and categories[None] == 1  # one without
    field = rows(demo_sim, select(crm_tables.userfields)
                 .where(crm_tables.userfields.c.field_name == "UF_CRM_CATEGORY"))[0]
    assert field.entity_id == "CRM_COMPANY" and field.user_type_id == "enumeration"
    assert [(i["ID"], i["VALUE"]) for i in field.settings["LIST"]] == [
        ("1", "A"), ("2", "B"), ("3", "C")]
    # Spread over the sales people of both business lines, each with a contact or more.
    sales_people = {u.id for u in rows(demo_sim, select(users_tables.users))
                    if set(u.departments) & {3, 4}}
    owners = Counter(c.assigned_by_id for c in companies)
    assert set(owners) <= sales_people and len(owners) >= 6
    with_contacts = {r.company_id for r in rows(demo_sim, select(C.c.company_id)
                                                .where(C.c.entity_type_id == 3))}
    assert with_contacts == {c.id for c in companies}


def test_the_rest_api_sees_the_demo(demo_sim: Simulator) -> None:
    listed = demo_sim.call("crm.company.list", {"filter": {"UF_CRM_CATEGORY": "1"}})
    assert 0 < int(listed["total"]) < 200
    assert demo_sim.call("crm.company.list", {})["total"] == 200


def test_deals_in_two_pipelines_leads_quotes_and_invoices(demo_sim: Simulator) -> None:
    deals = rows(demo_sim, select(C).where(C.c.entity_type_id == 2))
    assert {d.category_id for d in deals} == {0, 1}
    stages = {d.stage_id for d in deals}
    assert {"WON", "LOSE", "C1:WON", "C1:LOSE"} <= stages
    assert all(d.closed == d.stage_id.endswith(("WON", "LOSE")) for d in deals)
    leads = Counter(r.stage_id for r in rows(demo_sim, select(C).where(C.c.entity_type_id == 1)))
    assert leads["NEW"] > 0 and leads["CONVERTED"] > 0
    converted = rows(demo_sim, select(C).where(C.c.entity_type_id == 1,
                                               C.c.stage_id == "CONVERTED"))
    assert all(lead.company_id for lead in converted)
    assert count(demo_sim, C, C.c.entity_type_id == 7) > 0
    invoices = rows(demo_sim, select(C).where(C.c.entity_type_id == 31))
    assert invoices and all(i.stage_id.startswith("DT31_1:") for i in invoices)
    assert all(i.fields["PARENT_ID_2"] for i in invoices)


def test_four_months_of_calls_and_emails_ending_now(demo_sim: Simulator) -> None:
    now = demo_sim.clock.now()
    calls = rows(demo_sim, select(A).where(A.c.type_id == 2))
    outcomes = Counter((c.fields["SETTINGS"] or {}).get("CALL_FAILED_CODE") for c in calls)
    assert {"200", "304", "486", "603", "480"} <= set(outcomes)
    assert outcomes["200"] > outcomes["304"]
    done = [c for c in calls if c.completed]
    assert min(c.start_time for c in done) < now - timedelta(days=100)
    assert max(c.start_time for c in done) <= now
    assert now - max(c.start_time for c in done) < timedelta(days=4)
    emails = rows(demo_sim, select(A).where(A.c.type_id == 4))
    assert {e.direction for e in emails} == {1, 2}
    # Every activity is bound to its owner; some calls only to a contact or a deal.
    unbound = rows(demo_sim, select(A.c.id).where(~select(B.c.activity_id).where(
        B.c.activity_id == A.c.id, B.c.owner_type_id == A.c.owner_type_id,
        B.c.owner_id == A.c.owner_id).exists()))
    assert unbound == []
    assert {c.owner_type_id for c in calls} >= {2, 3, 4}


def last_contacts(sim: Simulator) -> dict[int, datetime]:
    """Company id -> last connected call or e-mail through any of its bindings."""
    company_of = {r.id: (r.id if r.entity_type_id == 4 else r.company_id)
                  for r in rows(sim, select(C.c.id, C.c.entity_type_id, C.c.company_id))}
    last: dict[int, datetime] = {}
    for a in rows(sim, select(A, B.c.owner_id.label("bound_id"))
                  .join(B, B.c.activity_id == A.c.id)):
        counts = a.type_id == 4 or (a.type_id == 2 and a.completed
                                    and a.fields["SETTINGS"].get("CALL_FAILED_CODE") == "200")
        company = company_of.get(a.bound_id)
        if counts and company and a.start_time <= sim.clock.now():
            last[company] = max(last.get(company, a.start_time), a.start_time)
    return last


def test_some_clients_are_overdue_for_contact_in_every_category(demo_sim: Simulator) -> None:
    cadence = {"1": 14, "2": 30, "3": 60}
    last = last_contacts(demo_sim)
    now = demo_sim.clock.now()
    seen: Counter[tuple[str, bool]] = Counter()
    for company in rows(demo_sim, select(C).where(C.c.entity_type_id == 4)):
        category = company.fields.get("UF_CRM_CATEGORY")
        if category is None:
            continue
        contacted = last.get(company.id)
        overdue = contacted is None or now - contacted > timedelta(days=cadence[category])
        seen[(category, overdue)] += 1
    for category in cadence:
        assert seen[(category, True)] > 0 and seen[(category, False)] > seen[(category, True)]


def test_tasks_some_overdue_some_bound_to_crm(demo_sim: Simulator) -> None:
    now = demo_sim.clock.now()
    tasks = rows(demo_sim, select(tasks_tables.tasks))
    assert len(tasks) > 30
    assert any(t.deadline < now and t.status not in (5, 7) for t in tasks)
    assert any(t.uf_crm_task for t in tasks)
    history = tasks_tables.task_history
    assert count(demo_sim, history, history.c.field == "NEW") == len(tasks)
    assert count(demo_sim, tasks_tables.task_comments) > 0


def test_several_people_have_tasks_due_in_the_coming_two_weeks(demo_sim: Simulator) -> None:
    now = demo_sim.clock.now()
    t = tasks_tables.tasks
    due = rows(demo_sim, select(t).where(t.c.deadline > now,
                                         t.c.deadline < now + timedelta(days=14),
                                         t.c.status.in_((2, 3))))
    guarded = [task for task in due if task.allow_change_deadline
               and task.created_by != task.responsible_id]
    assert len({task.responsible_id for task in guarded}) >= 5


def test_an_upcoming_vacation_of_a_sales_manager(demo_sim: Simulator) -> None:
    now = demo_sim.clock.now()
    absences = calendar_tables.absences
    upcoming = rows(demo_sim, select(absences).where(absences.c.absence_type == "VACATION",
                                                     absences.c.date_from > now))
    assert len(upcoming) == 1
    vacation = upcoming[0]
    assert vacation.date_from - now < timedelta(days=7)
    assert vacation.date_to - vacation.date_from > timedelta(days=7)
    users = users_tables.users
    person = rows(demo_sim, select(users).where(users.c.id == vacation.user_id))[0]
    assert set(person.departments) & {3, 4} and "Менеджер" in person.work_position


def test_seeding_a_portal_with_users_is_refused(demo_sim: Simulator) -> None:
    before = count(demo_sim, C)
    with pytest.raises(SimError) as refused:
        demo_sim.seed("demo")
    assert refused.value.code == "PORTAL_NOT_EMPTY"
    assert count(demo_sim, C) == before
    demo_sim.reset()
    assert load_demo(demo_sim)["companies"] == 200


def dump(sim: Simulator) -> list[tuple]:
    items = rows(sim, select(C.c.id, C.c.title, C.c.stage_id, C.c.assigned_by_id, C.c.fields,
                             C.c.date_create).order_by(C.c.id))
    acts = rows(sim, select(A.c.id, A.c.subject, A.c.owner_id, A.c.start_time, A.c.fields)
                .order_by(A.c.id))
    return [tuple(r) for r in items + acts]


def test_same_portal_time_gives_the_same_demo(sim: Simulator, tmp_path: Path) -> None:
    moment = datetime(2026, 3, 2, 9, 30)
    sim.clock.set(moment)
    other = Simulator(f"sqlite:///{tmp_path / 'other.db'}", webhook_token="t2")
    other.clock.set(moment)
    try:
        first, second = load_demo(sim), load_demo(other)
        first.pop("seconds"), second.pop("seconds")
        assert first == second
        assert dump(sim) == dump(other)
    finally:
        other.engine.dispose()

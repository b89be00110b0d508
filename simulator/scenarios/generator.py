"""Large portals on demand: tens of thousands of companies, a million activities, in minutes.

``generate(sim, companies=..., ...)`` writes a seeded, deterministic portal (same seed and same
portal time, same data) with bulk inserts: ``conn.execute(table.insert(), rows)`` in chunks of
5,000 rows, one transaction per kind of data, a progress bar on stderr. Like the demo, it only
runs on an empty portal (``SimError("PORTAL_NOT_EMPTY")`` otherwise; ``sim.reset()`` first) and
publishes no events or notices.

The shape: user 1 is the administrator (``admin@demo.portal``, password ``demo``, as every
user), a director heads the company, a sales department with groups of about a dozen managers
(each group's first member is its head), marketing and support. Companies (category A/B/C)
belong to sales managers and have ``contacts_per_company`` contacts each; leads and deals go to
random companies' managers; activities (mostly calls with the portal's telephony outcomes and
e-mails in both directions, a few meetings) spread over the past year, bound to a company, one
of its contacts, a deal (plus its company) or a lead; tasks are partly bound to CRM items.
Counts are exact: ``activities=1_000_000`` writes a million activities (bindings come on top).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random
from time import perf_counter
from typing import TYPE_CHECKING, Any

from simulator.calendar import tables as calendar_tables
from simulator.crm import tables as crm_tables
from simulator.scenarios import rows as R
from simulator.scenarios.errors import NoAdministrator, NotACount
from simulator.tasks import tables as tasks_tables
from simulator.users import tables as users_tables

if TYPE_CHECKING:
    from simulator.portal import Simulator

CHUNK = 5000
CATEGORY_WEIGHTS = {"1": 20, "2": 40, "3": 40}  # enum ids of A, B, C
LEAD_STATUSES = {"NEW": 15, "IN_PROCESS": 20, "PROCESSED": 10, "CONVERTED": 35, "JUNK": 20}
DEAL_STAGES = {"NEW": 15, "PREPARATION": 15, "PREPAYMENT_INVOICE": 10, "EXECUTING": 10,
               "FINAL_INVOICE": 5, "WON": 30, "LOSE": 15}
DEAL_PIPELINES = [{"id": 0, "name": "Продажи"}, {"id": 1, "name": "Повторные продажи"}]
CALL_OUTCOMES = {R.CONNECTED: 60, R.MISSED: 14, R.BUSY: 10, R.DECLINED: 6, R.UNAVAILABLE: 10}
SUBJECTS = {R.CALL: ("Исходящий звонок", "Входящий звонок", "Уточнить потребность",
                     "Согласование условий поставки", "Повторная продажа"),
            R.EMAIL: ("Коммерческое предложение", "Счёт на оплату", "Запрос цены",
                      "RE: Коммерческое предложение", "Документы по отгрузке"),
            R.MEETING: ("Встреча с клиентом", "Демонстрация оборудования")}
TASK_TITLES = ("Перезвонить клиенту", "Подготовить КП", "Выставить счёт", "Согласовать договор",
               "Организовать отгрузку", "Подготовить отчёт", "Обновить данные клиента")


def _weighted(rng: Random, table: dict[Any, int], count: int) -> list[Any]:
    return rng.choices(list(table), list(table.values()), k=count)


class PortalPlan:
    """Who works where, decided before any row is written."""

    def __init__(self, rng: Random, users: int) -> None:
        self.rng = rng
        self.count = users
        others = max(0, users - 3)
        marketing = max(1, others // 10) if others >= 3 else 0
        support = max(1, others // 10) if others >= 3 else 0
        sales = others - marketing - support
        groups = max(1, sales // 12) if sales else 0
        self.departments: list[dict[str, Any]] = [
            {"id": 1, "name": "Головной офис", "parent": None, "head": min(2, users)},
            {"id": 2, "name": "Отдел продаж", "parent": 1, "head": 3 if users >= 3 else None}]
        self.user_departments: dict[int, list[int]] = {1: [1], 2: [1], 3: [2]}
        next_user = 4
        self.sales: list[int] = [3] if users >= 3 else [1]
        for group in range(groups):
            dept_id = 3 + group
            members = list(range(next_user + group, next_user + sales, groups))
            self.departments.append({"id": dept_id, "name": f"Группа продаж {group + 1}",
                                     "parent": 2, "head": members[0] if members else None})
            for member in members:
                self.user_departments[member] = [dept_id]
            self.sales += members
        next_user += sales
        for name, size in (("Маркетинг", marketing), ("Служба поддержки", support)):
            if not size:
                continue
            dept_id = len(self.departments) + 1
            self.departments.append({"id": dept_id, "name": name, "parent": 1,
                                     "head": next_user})
            for member in range(next_user, next_user + size):
                self.user_departments[member] = [dept_id]
            next_user += size
        self.heads = {d["id"]: d["head"] for d in self.departments}

    def boss_of(self, user_id: int) -> int:
        dept = self.user_departments.get(user_id, [1])[0]
        head = self.heads.get(dept)
        if head is None or head == user_id:
            parent = next((d["parent"] for d in self.departments if d["id"] == dept), None)
            head = self.heads.get(parent or 1) or 1
        return head if head != user_id else 1


class Generator:
    def __init__(self, sim: Simulator, *, seed: int, counts: dict[str, int],
                 progress: Any) -> None:
        self.sim = sim
        self.rng = Random(seed)
        self.now = sim.clock.now()
        self.tz = sim.tz  # read here, never inside the writing transactions
        self.counts = counts
        self.bar = progress
        self.vocab = R.Vocabulary()
        self.mf = R.MultifieldIds()
        self.plan = PortalPlan(self.rng, counts["users"])
        n_companies, per = counts["companies"], counts["contacts_per_company"]
        self.first_contact = n_companies + 1
        self.first_lead = self.first_contact + n_companies * per
        self.first_deal = self.first_lead + counts["leads"]
        self.company_manager: list[int] = []
        self.company_phone: list[str] = []
        self.contact_phone: list[str] = []
        self.deal_company: list[int] = []
        self.lead_manager: list[int] = []

    def contact_id(self, company_index: int, number: int) -> int:
        return self.first_contact + company_index * self.counts["contacts_per_company"] + number

    def ago(self, low: float, high: float) -> datetime:
        return self.now - timedelta(days=self.rng.uniform(low, high))

    def writer(self, ctx: Any) -> R.BulkWriter:
        return R.BulkWriter(ctx.conn, chunk=CHUNK, progress=self.bar)

    # -- people --------------------------------------------------------------------------------
    def people(self, writer: R.BulkWriter) -> None:
        for dept in self.plan.departments:
            writer.add(users_tables.departments, R.department_row(
                dept["id"], dept["name"], parent=dept["parent"], head=dept["head"],
                sort=100 * dept["id"]))
        positions = {1: "Системный администратор", 2: "Генеральный директор",
                     3: "Коммерческий директор"}
        for user_id in range(1, self.plan.count + 1):
            first, last, middle, gender = self.vocab.person(self.rng)
            email = ("admin@demo.portal" if user_id == 1
                     else f"{R.translit(first)[0]}.{R.translit(last)}.{user_id}@demo.portal")
            default = "Менеджер по продажам" if user_id in self.plan.sales else "Специалист"
            row = R.user_row(
                user_id, name=first, last_name=last, second_name=middle, email=email,
                position=positions.get(user_id, default),
                departments=self.plan.user_departments.get(user_id, [1]),
                registered=self.ago(100, 2000), password="demo", is_admin=user_id == 1,
                fields={"PERSONAL_GENDER": gender})
            if user_id == 1:
                row["webhook_token"] = self.sim.webhook_token
            writer.add(users_tables.users, row)
            if user_id > 1 and self.rng.random() < 0.1:
                start = R.at_local(R.local_day(self.now, self.tz,
                                               self.rng.uniform(-60, 60)), self.tz, 0)
                writer.add(calendar_tables.absences, R.absence_row(
                    user_id, date_from=start,
                    date_to=start + timedelta(days=self.rng.randint(3, 14), seconds=-1),
                    absence_type=self.rng.choice(("VACATION", "VACATION", "ASSIGNMENT")),
                    name="Отпуск", modified=min(start, self.now)))
        writer.add(crm_tables.userfields, R.category_userfield_row())

    # -- CRM -----------------------------------------------------------------------------------
    def clients(self, writer: R.BulkWriter) -> None:
        rng, per = self.rng, self.counts["contacts_per_company"]
        names = self.vocab.company_names(rng, self.counts["companies"])
        categories = _weighted(rng, CATEGORY_WEIGHTS, len(names))
        positions = self.vocab.data["people"]["positions"]
        for index, (title, slug) in enumerate(names):
            manager = rng.choice(self.plan.sales)
            phone = R.phone_number(rng)
            created = self.ago(30, 1500)
            self.company_manager.append(manager)
            self.company_phone.append(phone)
            writer.add(crm_tables.crm_items, R.crm_row(
                index + 1, R.COMPANY, title=title, assigned=manager, created=created,
                fields={"COMPANY_TYPE": "CUSTOMER", "CURRENCY_ID": "RUB", "OPENED": "Y",
                        "PHONE": self.mf.items((phone, "WORK")),
                        "EMAIL": self.mf.items((f"info@{slug}.ru", "WORK")),
                        R.CATEGORY_FIELD: categories[index]}))
            for number in range(per):
                first, last, middle, _gender = self.vocab.person(rng)
                contact_phone = R.phone_number(rng)
                self.contact_phone.append(contact_phone)
                writer.add(crm_tables.crm_items, R.crm_row(
                    self.contact_id(index, number), R.CONTACT, title=f"{first} {last}",
                    assigned=manager, created=created, company_id=index + 1,
                    fields={"NAME": first, "LAST_NAME": last, "SECOND_NAME": middle,
                            "POST": rng.choice(positions), "TYPE_ID": "CLIENT",
                            "COMPANY_IDS": [index + 1], "OPENED": "Y",
                            "PHONE": self.mf.items((contact_phone, "MOBILE")),
                            "EMAIL": self.mf.items(
                                (f"{R.translit(last)}.{number + 1}@{slug}.ru", "WORK"))}))

    def leads_and_deals(self, writer: R.BulkWriter) -> None:
        rng, n_companies = self.rng, self.counts["companies"]
        per = self.counts["contacts_per_company"]
        statuses = _weighted(rng, LEAD_STATUSES, self.counts["leads"])
        for number, status in enumerate(statuses):
            converted = status == "CONVERTED" and n_companies > 0
            company = rng.randrange(n_companies) if converted else None
            manager = (self.company_manager[company] if company is not None
                       else rng.choice(self.plan.sales))
            self.lead_manager.append(manager)
            first, last, middle, _gender = self.vocab.person(rng)
            writer.add(crm_tables.crm_items, R.crm_row(
                self.first_lead + number, R.LEAD, title=f"Заявка с сайта № {number + 1}",
                assigned=manager, created_by=1, created=self.ago(0, 365),
                stage=status if company is not None or status != "CONVERTED" else "JUNK",
                opportunity=float(rng.randrange(10, 3000) * 1000),
                company_id=company + 1 if company is not None else None,
                contact_id=self.contact_id(company, 0) if company is not None and per else None,
                fields={"NAME": first, "LAST_NAME": last, "SECOND_NAME": middle,
                        "SOURCE_ID": rng.choice(("WEB", "CALL", "EMAIL", "ADVERTISING")),
                        "CURRENCY_ID": "RUB", "OPENED": "Y",
                        "PHONE": self.mf.items((R.phone_number(rng), "WORK"))}))
        if not n_companies:
            self.counts["deals"] = 0
            return
        stages = _weighted(rng, DEAL_STAGES, self.counts["deals"])
        for number, stage in enumerate(stages):
            company = rng.randrange(n_companies)
            category = rng.randrange(2)
            self.deal_company.append(company)
            created = self.ago(0, 365)
            contact_ids = [self.contact_id(company, n) for n in range(min(per, 2))]
            writer.add(crm_tables.crm_items, R.crm_row(
                self.first_deal + number, R.DEAL, title=f"Сделка № {number + 1}",
                assigned=self.company_manager[company], created=created,
                stage=R.deal_stage(category, stage), category_id=category,
                company_id=company + 1, contact_id=contact_ids[0] if contact_ids else None,
                opportunity=float(rng.randrange(20, 5000) * 1000),
                fields={"TYPE_ID": "SALE", "CURRENCY_ID": "RUB", "OPENED": "Y",
                        "CONTACT_IDS": contact_ids, "BEGINDATE": created.date().isoformat(),
                        "CLOSEDATE": (created + timedelta(days=30)).date().isoformat()}))

    # -- history -------------------------------------------------------------------------------
    def owner(self, kind: str) -> tuple[list[tuple[int, int]], int, str, tuple[int, int]]:
        """(bindings, responsible, phone, communication entity) for one activity."""
        rng = self.rng
        if kind == "lead":
            lead = rng.randrange(self.counts["leads"])
            entity = (R.LEAD, self.first_lead + lead)
            return [entity], self.lead_manager[lead], R.phone_number(rng), entity
        if kind == "deal":
            deal = rng.randrange(self.counts["deals"])
            company = self.deal_company[deal]
            entity = (R.COMPANY, company + 1)
            # Bound to the deal and its company, as the portal binds a call made from a deal.
            return ([(R.DEAL, self.first_deal + deal), entity], self.company_manager[company],
                    self.company_phone[company], entity)
        company = rng.randrange(self.counts["companies"])
        if kind == "contact":
            contact = self.contact_id(company, rng.randrange(self.counts["contacts_per_company"]))
            entity = (R.CONTACT, contact)
            return ([entity], self.company_manager[company],
                    self.contact_phone[contact - self.first_contact], entity)
        entity = (R.COMPANY, company + 1)
        return [entity], self.company_manager[company], self.company_phone[company], entity

    def activities(self, writer: R.BulkWriter) -> None:
        rng, now, counts = self.rng, self.now, self.counts
        kinds = {"company": 50 if counts["companies"] else 0,
                 "contact": 30 if counts["companies"] and counts["contacts_per_company"] else 0,
                 "deal": 15 if counts["deals"] else 0, "lead": 5 if counts["leads"] else 0}
        if not any(kinds.values()):
            counts["activities"] = 0
            return
        kind_names, kind_weights = list(kinds), list(kinds.values())
        outcomes, outcome_weights = list(CALL_OUTCOMES), list(CALL_OUTCOMES.values())
        # Office hours in the portal's zone, counted from today's local midnight (naive UTC).
        midnight = R.at_local(R.local_day(now, self.tz, 0), self.tz, 0)
        for activity_id in range(1, counts["activities"] + 1):
            roll = rng.random()
            type_id = R.CALL if roll < 0.62 else R.EMAIL if roll < 0.95 else R.MEETING
            owners, responsible, phone, entity = self.owner(
                rng.choices(kind_names, kind_weights)[0])
            seconds = rng.randrange(20, 900)
            start = midnight - timedelta(days=rng.randrange(0, 366),
                                         minutes=-rng.randrange(9 * 60, 18 * 60))
            outcome, completed, direction, created = None, True, R.OUTGOING, None
            if type_id == R.CALL and (start > now or rng.random() < 0.03):
                completed = False  # a planned call, some of them already overdue
                start = now + timedelta(days=rng.uniform(-3, 14))
                created = min(start, now) - timedelta(hours=rng.uniform(1, 72))
            elif start + timedelta(seconds=seconds) > now:
                start = now - timedelta(seconds=seconds + rng.randrange(60, 36000))
            if type_id == R.CALL and completed:
                outcome = rng.choices(outcomes, outcome_weights)[0]
                incoming = outcome == R.MISSED or (outcome == R.CONNECTED and rng.random() < 0.3)
                direction = R.INCOMING if incoming else R.OUTGOING
            elif type_id == R.EMAIL:
                direction = R.INCOMING if rng.random() < 0.4 else R.OUTGOING
                completed = not (direction == R.INCOMING and now - start < timedelta(days=2))
            kind = "EMAIL" if type_id == R.EMAIL else "PHONE"
            value = f"client{entity[1]}@mail.test" if kind == "EMAIL" else phone
            writer.add(crm_tables.activities, R.activity_row(
                activity_id, owner=owners[0], type_id=type_id, direction=direction,
                completed=completed, responsible_id=responsible, created=created,
                subject=rng.choice(SUBJECTS[type_id]), start=start,
                end=start + timedelta(seconds=seconds), outcome=outcome,
                communications=[R.communication(kind, value, *entity)]))
            writer.extend(crm_tables.activity_bindings, R.binding_rows(activity_id, owners))

    def tasks(self, writer: R.BulkWriter) -> None:
        rng, now = self.rng, self.now
        n_companies, n_deals = self.counts["companies"], self.counts["deals"]
        statuses = _weighted(rng, {2: 30, 3: 25, 4: 5, 5: 35, 6: 5}, self.counts["tasks"])
        everyone = list(range(1, self.plan.count + 1))
        for task_id, status in enumerate(statuses, start=1):
            responsible = (rng.choice(self.plan.sales) if rng.random() < 0.8
                           else rng.choice(everyone))
            creator = responsible if rng.random() < 0.3 else self.plan.boss_of(responsible)
            created = self.ago(0.1, 365)
            binding: list[str] = []
            if n_companies and rng.random() < 0.5:
                binding = ([f"D_{self.first_deal + rng.randrange(n_deals)}"]
                           if n_deals and rng.random() < 0.4
                           else [f"CO_{rng.randrange(n_companies) + 1}"])
            deadline = (created + timedelta(days=rng.uniform(1, 14)) if status == 5
                        else now + timedelta(days=rng.uniform(-10, 20)))
            row = R.task_row(task_id, title=rng.choice(TASK_TITLES), created_by=creator,
                             responsible_id=responsible, created=created, deadline=deadline,
                             status=status, now=now, uf_crm_task=binding,
                             allow_change_deadline=rng.random() < 0.5)
            writer.add(tasks_tables.tasks, row)
            writer.add(tasks_tables.task_history, R.history_row(task_id, created, "NEW", creator))
            if status != 2:
                writer.add(tasks_tables.task_history, R.history_row(
                    task_id, row["changed_date"], "STATUS", responsible, "2", str(status)))


def generate(sim: Simulator, *, companies: int = 1000, contacts_per_company: int = 2,
             activities: int = 20_000, leads: int = 500, deals: int = 1000, tasks: int = 1000,
             users: int = 50, seed: int = 7, progress: bool = True) -> dict[str, Any]:
    """Write a large portal into an empty simulator; returns the counts and the seconds."""
    counts = {"companies": companies, "contacts_per_company": contacts_per_company,
              "activities": activities, "leads": leads, "deals": deals, "tasks": tasks,
              "users": users}
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise NotACount(name=name)
    if users < 1:
        raise NoAdministrator()
    started = perf_counter()
    estimate = (users + companies * (1 + contacts_per_company) + leads + deals
                + int(activities * 2.15) + tasks * 2)
    with R.progress_bar(estimate, progress, "generating portal") as bar:
        gen = Generator(sim, seed=seed, counts=counts, progress=bar)
        steps = (gen.people, gen.clients, gen.leads_and_deals, gen.activities, gen.tasks)
        written: dict[str, int] = {}
        for number, step in enumerate(steps):
            with sim.transaction() as ctx:
                if number == 0:
                    R.ensure_empty(ctx.conn)
                writer = gen.writer(ctx)
                step(writer)
                writer.flush()
                if number == len(steps) - 1:
                    R.sync_sequences(ctx.conn)
            for table, count in writer.counts.items():
                written[table] = written.get(table, 0) + count
    sim.settings.set("deal_categories", DEAL_PIPELINES)  # the deals use pipelines 0 and 1
    return {
        "users": users, "departments": len(gen.plan.departments), "companies": companies,
        "contacts": companies * contacts_per_company, "leads": leads, "deals": gen.counts["deals"],
        "activities": gen.counts["activities"],
        "activity_bindings": written.get(crm_tables.activity_bindings.name, 0), "tasks": tasks,
        "absences": written.get(calendar_tables.absences.name, 0), "rows": sum(written.values()),
        "seed": seed, "seconds": round(perf_counter() - started, 3),
    }

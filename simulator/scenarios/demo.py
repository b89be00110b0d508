"""The demo portal: "ТК-Инвест" from seed 004, twelve people and about two hundred clients.

``load_demo(sim)`` reads ``fixtures/demo/*.yaml`` and writes the portal with bulk inserts:
the department tree with heads, the people (every password ``demo``; user 1,
``admin@demo.portal``, is the portal administrator and owns the incoming-webhook token), the
``UF_CRM_CATEGORY`` list field and ~200 client companies with categories A/B/C spread over the
sales managers of the two business lines, their contacts, leads (new and converted), deals in
one pipeline per business line, quotes, smart invoices, four months of calls and e-mails, tasks
with history and comments, and the absence chart with one upcoming vacation.

Every date is relative to the portal's clock (``sim.clock.now()``), so the demo looks current
whenever it is loaded; the random choices are seeded, so two loads at the same portal time give
the same portal.

Decision: ``load_demo`` never wipes anything. Seeding writes explicit ids, so on a portal that
already has users it raises ``SimError("PORTAL_NOT_EMPTY")`` and changes nothing; call
``sim.reset()`` first to start over. No events or notices are published: this is the portal's
past, not something happening now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from time import perf_counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from simulator.calendar import tables as calendar_tables
from simulator.core import tables as core_tables
from simulator.crm import tables as crm_tables
from simulator.scenarios import rows as R
from simulator.scenarios.demo_history import write_history
from simulator.users import tables as users_tables

if TYPE_CHECKING:
    from simulator.portal import Simulator


@dataclass
class Contact:
    name: str
    last_name: str
    second_name: str
    post: str
    phone: str
    email: str
    created: datetime
    id: int = 0


@dataclass
class Client:
    title: str
    slug: str
    line: dict[str, Any]
    manager: int
    category: str
    created: datetime
    city: str
    industry: str
    phone: str
    id: int = 0
    contacts: list[Contact] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    lead: Lead | None = None


@dataclass
class Lead:
    title: str
    status: str
    manager: int
    created: datetime
    source: str
    person: tuple[str, str, str, str]
    company_title: str
    phone: str
    email: str
    amount: float
    comment: str
    client: Client | None = None
    id: int = 0


@dataclass
class Deal:
    title: str
    client: Client
    stage: str  # without the category prefix: NEW ... WON, LOSE
    created: datetime
    closed_at: datetime | None
    amount: float
    lead: Lead | None = None
    id: int = 0
    docs: list[Doc] = field(default_factory=list)


@dataclass
class Doc:
    """A quote (entity type 7) or a smart invoice (31) issued for a deal."""

    entity_type_id: int
    deal: Deal
    stage: str
    created: datetime
    number: str
    id: int = 0


class DemoPortal:
    def __init__(self, sim: Simulator) -> None:
        self.spec = R.read_fixture("portal")
        self.vocab = R.Vocabulary()
        self.rng = Random(self.spec["random_seed"])
        self.now = sim.clock.now()
        self.tz = sim.tz
        self.webhook_token = sim.webhook_token
        self.mf = R.MultifieldIds()
        self.clients: list[Client] = []
        self.leads: list[Lead] = []
        self.deals: list[Deal] = []
        self.docs: list[Doc] = []
        self.heads = {d["id"]: d["head"] for d in self.spec["departments"]}
        self.users = {u["id"]: u for u in self.spec["users"]}
        self.lines = self.spec["business_lines"]
        for line in self.lines:
            line["members"] = [u["id"] for u in self.spec["users"]
                               if line["department"] in u["departments"]]

    def days_ago(self, low: float, high: float) -> datetime:
        return self.now - timedelta(days=self.rng.uniform(low, high))

    def pick_manager(self, line: dict[str, Any]) -> int:
        # A line's head keeps fewer clients of their own than the managers.
        weights = [1 if m == self.heads[line["department"]] else 3 for m in line["members"]]
        return self.rng.choices(line["members"], weights)[0]

    def pick_line(self) -> dict[str, Any]:
        return self.lines[0] if self.rng.random() < self.lines[0]["share_of_clients"] \
            else self.lines[1]

    # -- who is who ----------------------------------------------------------------------------
    def people(self, writer: R.BulkWriter) -> None:
        for dept in self.spec["departments"]:
            writer.add(users_tables.departments, R.department_row(
                dept["id"], dept["name"], parent=dept.get("parent"), head=dept.get("head"),
                sort=dept.get("sort", 500)))
        for user in self.spec["users"]:
            row = R.user_row(
                user["id"], name=user["name"], last_name=user["last_name"],
                second_name=user["second_name"], email=user["email"],
                position=user["position"], departments=user["departments"],
                registered=self.now - timedelta(days=400 + 97 * user["id"]),
                password=self.spec["password"], is_admin=bool(user.get("admin")),
                fields={"PERSONAL_GENDER": user["gender"],
                        "UF_PHONE_INNER": user["phone_inner"]})
            if user["id"] == 1:
                row["webhook_token"] = self.webhook_token
            writer.add(users_tables.users, row)
        writer.add(crm_tables.userfields, R.category_userfield_row())

    # -- clients, leads, deals -----------------------------------------------------------------
    def plan_clients(self) -> None:
        volumes = self.spec["volumes"]
        total = volumes["companies"]
        names = self.vocab.company_names(self.rng, total + sum(volumes["open_leads"].values()))
        self._spare_names = names[total:]
        weights = volumes["category_weights"]
        recent = set(self.rng.sample(range(total), volumes["recent_companies"]))
        data = self.vocab.data
        for index, (title, slug) in enumerate(names[:total]):
            line = self.pick_line()
            created = (self.days_ago(5, 110) if index in recent
                       else self.days_ago(130, 1100))
            client = Client(
                title=title, slug=slug, line=line, manager=self.pick_manager(line),
                category=self.rng.choices(list(weights), list(weights.values()))[0],
                created=created, city=self.rng.choice(data["cities"]),
                industry=self.rng.choice(data["industries"]), phone=R.phone_number(self.rng))
            low, high = volumes["contacts_per_company"]
            for _ in range(self.rng.randint(low, high)):
                first, last, middle, _gender = self.vocab.person(self.rng)
                client.contacts.append(Contact(
                    name=first, last_name=last, second_name=middle,
                    post=self.rng.choice(data["people"]["positions"]),
                    phone=R.phone_number(self.rng),
                    email=f"{R.translit(first)[0]}.{R.translit(last)}@{slug}.ru",
                    created=created + timedelta(minutes=10)))
            if index in recent:
                client.lead = self.converted_lead(client)
            self.clients.append(client)

    def _lead_title(self, line: dict[str, Any]) -> tuple[str, str]:
        product = self.rng.choice(line["products"])
        template = self.rng.choice(self.vocab.data["leads"]["titles"])
        return template.format(product=product), product

    def converted_lead(self, client: Client) -> Lead:
        person = client.contacts[0]
        title, _product = self._lead_title(client.line)
        lead = Lead(
            title=title, status="CONVERTED", manager=client.manager,
            created=client.created - timedelta(days=self.rng.uniform(1, 5)),
            source=self.rng.choice(self.vocab.data["leads"]["sources"]),
            person=(person.name, person.last_name, person.second_name, ""),
            company_title=client.title, phone=person.phone, email=person.email,
            amount=0.0, comment=self.rng.choice(self.vocab.data["leads"]["comments"]),
            client=client)
        self.leads.append(lead)
        return lead

    def plan_open_leads(self) -> None:
        ages = {"NEW": (0.02, 3), "IN_PROCESS": (1, 20), "PROCESSED": (4, 40),
                "JUNK": (5, 110)}
        names = iter(self._spare_names)
        for status, count in self.spec["volumes"]["open_leads"].items():
            for _ in range(count):
                line = self.pick_line()
                title, _product = self._lead_title(line)
                person = self.vocab.person(self.rng)
                company_title, slug = next(names)
                low, high = line["amount"]
                self.leads.append(Lead(
                    title=title, status=status, manager=self.pick_manager(line),
                    created=self.days_ago(*ages[status]),
                    source=self.rng.choice(self.vocab.data["leads"]["sources"]),
                    person=person, company_title=company_title,
                    phone=R.phone_number(self.rng),
                    email=f"{R.translit(person[1])}@{slug}.ru",
                    amount=round(self.rng.uniform(low, high), -3) if status != "JUNK" else 0.0,
                    comment=self.rng.choice(self.vocab.data["leads"]["comments"])))

    def plan_deals(self) -> None:
        counts = {"A": (1, 2, 2, 3), "B": (0, 1, 1, 2), "C": (0, 0, 1)}
        open_stages = ("NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE")
        for client in self.clients:
            count = self.rng.choice(counts[client.category])
            if client.lead is not None:
                count = max(count, 1)
            for number in range(count):
                start = max(client.created, self.now - timedelta(days=150))
                created = start + (self.now - start) * self.rng.uniform(0.05, 0.95)
                age = (self.now - created).days
                roll = self.rng.random()
                if age > 45 and roll < 0.7:
                    stage = "WON" if roll < 0.45 else "LOSE"
                else:
                    stage = self.rng.choices(open_stages, (3, 3, 2, 2, 1))[0]
                closed_at = None
                if stage in ("WON", "LOSE"):
                    closed_at = min(created + timedelta(days=self.rng.uniform(10, 45)),
                                    self.now - timedelta(days=1))
                low, high = client.line["amount"]
                product = self.rng.choice(client.line["products"])
                deal = Deal(title=f"{product} — {client.title}", client=client, stage=stage,
                            created=created, closed_at=closed_at,
                            amount=round(self.rng.uniform(low, high), -3),
                            lead=client.lead if number == 0 else None)
                client.deals.append(deal)
                self.deals.append(deal)
                self.plan_docs(deal)

    def plan_docs(self, deal: Deal) -> None:
        stage, created = deal.stage, deal.created
        if stage != "NEW" and self.rng.random() < 0.45:
            status = {"PREPARATION": self.rng.choice(("DRAFT", "SENT")),
                      "LOSE": "DECLINED"}.get(stage, "APPROVED")
            when = min(created + timedelta(days=self.rng.uniform(1, 6)), self.now)
            doc = Doc(R.QUOTE, deal, status, when, f"КП-{when:%y}-{len(self.docs) + 101:04d}")
            deal.docs.append(doc)
            self.docs.append(doc)
        invoice_stage = {"PREPAYMENT_INVOICE": self.rng.choice(("N", "S")), "EXECUTING": "P",
                         "FINAL_INVOICE": "S", "WON": "P"}.get(stage)
        if invoice_stage:
            when = min(created + timedelta(days=self.rng.uniform(4, 12)), self.now)
            doc = Doc(R.SMART_INVOICE, deal, f"DT31_1:{invoice_stage}", when,
                      f"СЧ-{when:%y}-{len(self.docs) + 501:04d}")
            deal.docs.append(doc)
            self.docs.append(doc)

    def assign_ids(self) -> None:
        """One id sequence for every CRM type, in order of creation, as on a real portal."""
        items: list[Any] = [*self.clients, *self.leads, *self.deals, *self.docs]
        items += [c for client in self.clients for c in client.contacts]
        items.sort(key=lambda item: item.created)
        for number, item in enumerate(items, start=1):
            item.id = number

    # -- rows ----------------------------------------------------------------------------------
    def crm_rows(self, writer: R.BulkWriter) -> None:
        from simulator.scenarios.demo_cadence import uncategorized

        category = R.CATEGORY_ENUM_ID
        no_category = uncategorized(self)
        for client in self.clients:
            fields: dict[str, Any] = {
                "COMPANY_TYPE": "CUSTOMER", "INDUSTRY": client.industry,
                "ADDRESS_CITY": client.city, "CURRENCY_ID": "RUB", "OPENED": "Y",
                "PHONE": self.mf.items((client.phone, "WORK")),
                "EMAIL": self.mf.items((f"info@{client.slug}.ru", "WORK")),
                "WEB": self.mf.items((f"https://{client.slug}.ru", "WORK")),
                R.CATEGORY_FIELD: category[client.category],
            }
            if client.id in no_category:
                del fields[R.CATEGORY_FIELD]
            if client.lead is not None:
                fields["LEAD_ID"] = client.lead.id
            writer.add(crm_tables.crm_items, R.crm_row(
                client.id, R.COMPANY, title=client.title, assigned=client.manager,
                created=client.created, modified=self.days_ago(0, 30), fields=fields))
            for contact in client.contacts:
                writer.add(crm_tables.crm_items, R.crm_row(
                    contact.id, R.CONTACT, title=f"{contact.name} {contact.last_name}",
                    assigned=client.manager, created=contact.created, company_id=client.id,
                    fields={"NAME": contact.name, "LAST_NAME": contact.last_name,
                            "SECOND_NAME": contact.second_name, "POST": contact.post,
                            "TYPE_ID": "CLIENT", "COMPANY_IDS": [client.id], "OPENED": "Y",
                            "PHONE": self.mf.items((contact.phone, "MOBILE")),
                            "EMAIL": self.mf.items((contact.email, "WORK"))}))
        for lead in self.leads:
            name, last_name, second_name, _gender = lead.person
            won = lead.client
            writer.add(crm_tables.crm_items, R.crm_row(
                lead.id, R.LEAD, title=lead.title, assigned=lead.manager, created_by=1,
                created=lead.created, stage=lead.status, opportunity=lead.amount,
                modified=won.created if won else lead.created,
                company_id=won.id if won else None,
                contact_id=won.contacts[0].id if won else None,
                fields={"NAME": name, "LAST_NAME": last_name, "SECOND_NAME": second_name,
                        "COMPANY_TITLE": lead.company_title, "SOURCE_ID": lead.source,
                        "CURRENCY_ID": "RUB", "COMMENTS": lead.comment, "OPENED": "Y",
                        "PHONE": self.mf.items((lead.phone, "WORK")),
                        "EMAIL": self.mf.items((lead.email, "WORK"))}))
        for deal in self.deals:
            self.deal_rows(writer, deal)

    def deal_rows(self, writer: R.BulkWriter, deal: Deal) -> None:
        client, category_id = deal.client, deal.client.line["deal_category"]
        contact_ids = [c.id for c in client.contacts[:2]]
        begin = deal.created.date().isoformat()
        close = (deal.closed_at or deal.created + timedelta(days=30)).date().isoformat()
        fields: dict[str, Any] = {"TYPE_ID": "SALE", "CURRENCY_ID": "RUB", "OPENED": "Y",
                                  "CONTACT_IDS": contact_ids, "BEGINDATE": begin,
                                  "CLOSEDATE": close, "SOURCE_ID": "SELF"}
        if deal.lead is not None:
            fields["LEAD_ID"] = deal.lead.id
        contact_id = contact_ids[0] if contact_ids else None
        writer.add(crm_tables.crm_items, R.crm_row(
            deal.id, R.DEAL, title=deal.title, assigned=client.manager, created=deal.created,
            modified=deal.closed_at or self.days_ago(0, 10),
            stage=R.deal_stage(category_id, deal.stage), category_id=category_id,
            company_id=client.id, contact_id=contact_id, opportunity=deal.amount,
            fields=fields))
        for doc in deal.docs:
            common = {"CURRENCY_ID": "RUB", "CONTACT_IDS": contact_ids,
                      "BEGINDATE": doc.created.date().isoformat(),
                      "CLOSEDATE": (doc.created + timedelta(days=10)).date().isoformat()}
            if doc.entity_type_id == R.QUOTE:
                title = f"Коммерческое предложение {doc.number}"
                extra: dict[str, Any] = {"DEAL_ID": deal.id, "QUOTE_NUMBER": doc.number}
                doc_category = None
            else:
                title = f"Счёт {doc.number}"
                extra = {"PARENT_ID_2": deal.id, "ACCOUNT_NUMBER": doc.number}
                doc_category = R.INVOICE_CATEGORY
            writer.add(crm_tables.crm_items, R.crm_row(
                doc.id, doc.entity_type_id, title=title, assigned=client.manager,
                created=doc.created, stage=doc.stage, category_id=doc_category,
                company_id=client.id, contact_id=contact_id, opportunity=deal.amount,
                fields={**common, **extra}))

    def absences(self, writer: R.BulkWriter) -> None:
        for entry in self.spec["absences"]:
            first = R.local_day(self.now, self.tz, entry["starts_in_days"])
            after_last = first + timedelta(days=entry["days"])
            writer.add(calendar_tables.absences, R.absence_row(
                entry["user"], date_from=R.at_local(first, self.tz, 0),
                # The chart's period is whole days: the last day ends at 23:59:59 there.
                date_to=R.at_local(after_last, self.tz, 0) - timedelta(seconds=1),
                absence_type=entry["type"], name=entry["name"],
                modified=self.now - timedelta(days=abs(entry["starts_in_days"]) + 7)))

    def settings(self, writer: R.BulkWriter) -> None:
        values = {"portal_name": self.spec["company"],
                  "deal_categories": self.spec["deal_categories"],
                  # Every dated row is relative to this instant (naive UTC, portal time).
                  "demo_seeded_at": self.now.isoformat()}
        writer.conn.execute(delete(core_tables.settings).where(core_tables.settings.c.key.in_(list(values))))
        writer.extend(core_tables.settings, [{"key": k, "value": v} for k, v in values.items()])


def load_demo(sim: Simulator) -> dict[str, Any]:
    """Write the demo portal into an empty simulator; returns what was written."""
    started = perf_counter()
    demo = DemoPortal(sim)
    with sim.transaction() as ctx:
        R.ensure_empty(ctx.conn)
        writer = R.BulkWriter(ctx.conn)
        demo.people(writer)
        demo.plan_clients()
        demo.plan_open_leads()
        demo.plan_deals()
        demo.assign_ids()
        demo.crm_rows(writer)
        history = write_history(demo, writer)
        demo.absences(writer)
        demo.settings(writer)
        writer.flush()
        R.sync_sequences(ctx.conn)
    by_type: dict[str, int] = {"companies": len(demo.clients), "leads": len(demo.leads),
                               "deals": len(demo.deals)}
    by_type["contacts"] = sum(len(c.contacts) for c in demo.clients)
    by_type["quotes"] = sum(d.entity_type_id == R.QUOTE for d in demo.docs)
    by_type["invoices"] = sum(d.entity_type_id == R.SMART_INVOICE for d in demo.docs)
    return {
        "fixture": "demo", "portal": demo.spec["company"],
        "users": len(demo.users), "departments": len(demo.spec["departments"]),
        **by_type, **history, "absences": len(demo.spec["absences"]),
        "admin": demo.users[1]["email"], "password": demo.spec["password"],
        "seconds": round(perf_counter() - started, 3),
    }

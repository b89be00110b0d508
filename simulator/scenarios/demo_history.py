"""The demo portal's past: four months of calls and e-mails, planned calls, and tasks with
their history and comments.

Contact history follows the client's category (seed 004: A every 2 weeks, B every month, C
every 2 months). About a quarter of the clients are overdue: their last real contact is older
than their cadence, with only failed attempts since. Calls and e-mails are bound to the company,
to one of its contacts or to one of its deals (sometimes to the deal only), because the portal
does not always bind a call to the company: the A/B/C report has to follow the bindings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulator.crm import tables as crm_tables
from simulator.scenarios import rows as R
from simulator.tasks import tables as tasks_tables

if TYPE_CHECKING:
    from simulator.scenarios.demo import Client, DemoPortal, Lead

Owner = tuple[int, int]


class History:
    def __init__(self, demo: DemoPortal) -> None:
        self.demo = demo
        self.rng = demo.rng
        self.now = demo.now
        self.words = demo.vocab.data
        self.planned: list[tuple[datetime, dict[str, Any], list[Owner]]] = []

    def add(self, owners: list[Owner], **kwargs: Any) -> None:
        """Queue one activity; ids are given later, in order of time."""
        start = kwargs["start"]
        self.planned.append((start, kwargs, owners))

    # -- what happens with a client ------------------------------------------------------------
    def where(self, client: Client, moment: datetime, email: bool) -> tuple[list[Owner], Any]:
        """Owner bindings and the communication for one activity with ``client``."""
        rng = self.rng
        deals = [d for d in client.deals if d.created <= moment]
        roll = rng.random()
        contact = rng.choice(client.contacts) if client.contacts else None
        kind = "EMAIL" if email else "PHONE"
        if roll < 0.5 or (contact is None and not deals):
            owners: list[Owner] = [(R.COMPANY, client.id)]
            contact = None
        elif roll < 0.8 and contact is not None:
            owners = [(R.CONTACT, contact.id)]
        elif deals:
            owners = [(R.DEAL, rng.choice(deals).id)]
            if rng.random() < 0.5:
                owners.append((R.COMPANY, client.id))
        else:
            owners = [(R.COMPANY, client.id)]
            contact = None
        if contact is not None:
            value = contact.email if email else contact.phone
            comm = R.communication(kind, value, R.CONTACT, contact.id)
        else:
            value = f"info@{client.slug}.ru" if email else client.phone
            comm = R.communication(kind, value, R.COMPANY, client.id)
        return owners, comm

    def real_contact(self, client: Client, age: float) -> None:
        """A connected call or an e-mail: what counts as contact in the A/B/C report."""
        rng, words = self.rng, self.words
        start = R.working_moment(rng, self.now, self.demo.tz, -age)
        email = rng.random() < 0.4
        owners, comm = self.where(client, start, email)
        if email:
            direction = R.OUTGOING if rng.random() < 0.55 else R.INCOMING
            box = "outgoing" if direction == R.OUTGOING else "incoming"
            self.add(owners, type_id=R.EMAIL, direction=direction, start=start,
                     subject=rng.choice(words["emails"][box]),
                     description=rng.choice(words["emails"]["bodies"]),
                     completed=direction == R.OUTGOING or age > 2, responsible_id=client.manager,
                     communications=[comm])
            return
        direction = R.OUTGOING if rng.random() < 0.75 else R.INCOMING
        seconds = rng.randint(40, 720)
        self.add(owners, type_id=R.CALL, direction=direction, start=start,
                 end=start + timedelta(seconds=seconds), outcome=R.CONNECTED,
                 subject=rng.choice(words["calls"]["outgoing" if direction == R.OUTGOING
                                                   else "incoming"]),
                 description=f"Длительность разговора {seconds // 60}:{seconds % 60:02d}",
                 completed=True, responsible_id=client.manager, communications=[comm])

    def failed_call(self, client: Client, age: float) -> None:
        """A call that did not reach anyone: missed, busy, declined or unavailable."""
        rng = self.rng
        start = R.working_moment(rng, self.now, self.demo.tz, -age)
        outcome = rng.choices((R.MISSED, R.BUSY, R.UNAVAILABLE, R.DECLINED), (35, 25, 25, 15))[0]
        incoming = outcome == R.MISSED
        owners, comm = self.where(client, start, email=False)
        self.add(owners, type_id=R.CALL, direction=R.INCOMING if incoming else R.OUTGOING,
                 start=start, end=start + timedelta(seconds=rng.randint(15, 45)),
                 outcome=outcome, completed=not (incoming and age < 3),
                 subject="Пропущенный звонок" if incoming else "Исходящий звонок: не дозвонились",
                 responsible_id=client.manager, communications=[comm])

    def planned_call(self, client: Client, days: float) -> None:
        start = R.working_moment(self.rng, self.now, self.demo.tz, days)
        owners, comm = self.where(client, min(start, self.now), email=False)
        created = min(start, self.now) - timedelta(hours=self.rng.uniform(1, 72))
        self.add(owners, type_id=R.CALL, direction=R.OUTGOING, start=start, created=created,
                 end=start + timedelta(minutes=15), completed=False,
                 subject=self.rng.choice(self.words["calls"]["planned"]),
                 responsible_id=client.manager, communications=[comm])

    def client_history(self, client: Client) -> None:
        rng, spec = self.rng, self.demo.spec
        cadence = spec["cadence_days"][client.category]
        horizon = min(spec["volumes"]["history_days"], (self.now - client.created).days)
        overdue = rng.random() < spec["volumes"]["overdue_share"]
        last = cadence * (rng.uniform(1.15, 2.2) if overdue else rng.uniform(0.05, 0.9))
        age = last
        while age <= horizon:
            self.real_contact(client, age)
            if rng.random() < 0.35:
                self.failed_call(client, min(age + rng.uniform(0.2, 2.5), horizon))
            age += cadence * rng.uniform(0.45, 1.0)
        if overdue:  # tried since, never got through
            for _ in range(rng.randint(0, 2)):
                self.failed_call(client, rng.uniform(0.3, max(0.5, min(last, horizon) - 0.5)))
        if rng.random() < 0.35:
            self.planned_call(client, -rng.uniform(0.5, 4) if rng.random() < 0.25
                              else rng.uniform(0.5, 8))

    def lead_history(self, lead: Lead) -> None:
        rng = self.rng
        owner = [(R.LEAD, lead.id)]
        phone = R.communication("PHONE", lead.phone, R.LEAD, lead.id)
        limit = (lead.client.created if lead.client else self.now) - timedelta(minutes=5)

        def call(hours: float, outcome: str) -> None:
            start = min(lead.created + timedelta(hours=hours), limit)
            self.add(owner, type_id=R.CALL, direction=R.OUTGOING, start=start,
                     end=start + timedelta(seconds=rng.randint(30, 400)), outcome=outcome,
                     completed=True, subject="Первичный звонок по заявке",
                     responsible_id=lead.manager, communications=[phone])

        if lead.status in ("CONVERTED", "PROCESSED", "IN_PROCESS"):
            call(rng.uniform(0.3, 20), R.CONNECTED if lead.status != "IN_PROCESS"
                 else rng.choice((R.CONNECTED, R.BUSY, R.UNAVAILABLE)))
        if lead.status == "JUNK":
            call(rng.uniform(0.3, 30), rng.choice((R.UNAVAILABLE, R.DECLINED, R.CONNECTED)))
        if lead.source == "EMAIL" or lead.status == "PROCESSED":
            incoming = lead.source == "EMAIL"
            start = min(lead.created + timedelta(hours=0 if incoming else 26), limit)
            self.add(owner, type_id=R.EMAIL, direction=R.INCOMING if incoming else R.OUTGOING,
                     start=start, completed=not (incoming and lead.status == "NEW"),
                     subject="Заявка на поставку" if incoming else "Коммерческое предложение",
                     description=lead.comment, responsible_id=lead.manager,
                     communications=[R.communication("EMAIL", lead.email, R.LEAD, lead.id)])

    def write(self, writer: R.BulkWriter) -> dict[str, int]:
        self.planned.sort(key=lambda item: item[0])
        counts = {"activities": 0, "calls": 0, "emails": 0}
        from simulator.scenarios.demo_cadence import statistic_row
        from simulator.telephony.tables import call_statistics

        for number, (_start, kwargs, owners) in enumerate(self.planned, start=1):
            statistic = statistic_row(number, kwargs, owners)
            if statistic is not None:
                writer.add(call_statistics, statistic)
            kwargs = {k: v for k, v in kwargs.items() if k != "statistic"}
            writer.add(crm_tables.activities, R.activity_row(number, owner=owners[0], **kwargs))
            writer.extend(crm_tables.activity_bindings, R.binding_rows(number, owners))
            counts["activities"] += 1
            counts["calls" if kwargs["type_id"] == R.CALL else "emails"] += 1
        return counts


# -- tasks -------------------------------------------------------------------------------------
def plan_tasks(demo: DemoPortal) -> list[dict[str, Any]]:
    """Who asks whom to do what: sales tasks bound to clients and deals, plus the work of
    marketing, management and the administrator."""
    rng, words = demo.rng, demo.vocab.data["tasks"]
    plans: list[dict[str, Any]] = []
    low, high = demo.spec["volumes"]["tasks_per_manager"]
    for line in demo.lines:
        head = demo.heads[line["department"]]
        for user in line["members"]:
            boss = demo.heads[2] if user == head else head
            mine = [c for c in demo.clients if c.manager == user]
            for _ in range(rng.randint(low, high)):
                client = rng.choice(mine)
                templates = [t for t in words["sales"] if client.deals or "deal" not in t["binds"]]
                template = rng.choice(templates)
                deal = rng.choice(client.deals) if client.deals else None
                ids = {"company": f"CO_{client.id}", "deal": f"D_{deal.id}" if deal else ""}
                binds = [ids[b] for b in template["binds"]]
                title = template["title"].format(company=client.title,
                                                 deal=deal.title if deal else "")
                plans.append({"title": title, "responsible_id": user, "uf_crm_task": binds,
                              "created_by": user if rng.random() < 0.3 else boss,
                              "auditors": [head] if user != head and rng.random() < 0.3 else []})
    for title in words["marketing"]:
        user = rng.choice((11, 12))
        plans.append({"title": title, "responsible_id": user, "uf_crm_task": [], "auditors": [],
                      "created_by": 11 if user == 12 else 2})
    for title in words["management"]:
        plans.append({"title": title, "responsible_id": rng.choice((3, 4, 8)), "uf_crm_task": [],
                      "created_by": 2, "auditors": []})
    for title in words["admin"]:
        plans.append({"title": title, "responsible_id": 1, "uf_crm_task": [], "created_by": 2,
                      "auditors": []})
    for plan in plans:
        plan["created"] = R.working_moment(rng, demo.now, demo.tz, -rng.uniform(0.5, 45))
    plans.sort(key=lambda plan: plan["created"])
    return plans


def unix(moment: datetime) -> str:
    return str(int(moment.replace(tzinfo=UTC).timestamp()))


def write_tasks(demo: DemoPortal, writer: R.BulkWriter) -> dict[str, int]:
    rng, now, tz = demo.rng, demo.now, demo.tz
    comments = demo.vocab.data["tasks"]["comments"]
    comment_id = 0

    def evening(days: float) -> datetime:
        moment = R.at_local(R.local_day(now, tz, days), tz, 18)
        return moment if days < 0 or moment > now else moment + timedelta(days=1)

    plans = plan_tasks(demo)
    for task_id, plan in enumerate(plans, start=1):
        created: datetime = plan["created"]
        status = rng.choices((2, 3, 4, 5, 6), (30, 25, 5, 35, 5))[0]
        if status == 5:
            deadline = R.at_local(R.local_day(created, tz, rng.uniform(1, 10)), tz, 18)
        elif rng.random() < 0.25:
            deadline = evening(-rng.uniform(1, 8))
        else:
            deadline = evening(rng.uniform(0, 14))
        creator, responsible = plan["created_by"], plan["responsible_id"]
        allow = rng.random() < 0.5
        row = R.task_row(task_id, title=plan["title"], created_by=creator,
                         responsible_id=responsible, created=created, deadline=deadline,
                         status=status, now=now, priority=2 if rng.random() < 0.2 else 1,
                         uf_crm_task=plan["uf_crm_task"], auditors=plan["auditors"],
                         allow_change_deadline=allow,
                         task_control=creator != responsible and rng.random() < 0.4)
        writer.add(tasks_tables.tasks, row)
        writer.add(tasks_tables.task_history, R.history_row(task_id, created, "NEW", creator))
        if status != 2:
            writer.add(tasks_tables.task_history, R.history_row(
                task_id, row["changed_date"], "STATUS", responsible, "2", str(status)))
        if allow and status != 5 and rng.random() < 0.4:
            # Postponed once by the assignee; the portal logs deadlines as Unix timestamps.
            before = deadline - timedelta(days=rng.randint(1, 5))
            when = created + (now - created) * rng.uniform(0.2, 0.9)
            writer.add(tasks_tables.task_history, R.history_row(
                task_id, when, "DEADLINE", responsible, unix(before), unix(deadline)))
        if rng.random() < 0.35:
            for number in range(rng.randint(1, 3)):
                comment_id += 1
                author = responsible if number % 2 == 0 else creator
                posted = created + (now - created) * rng.uniform(0.1, 0.95)
                writer.add(tasks_tables.task_comments, {"id": comment_id, "task_id": task_id,
                                                        "author_id": author, "post_date": posted,
                                                        "post_message": rng.choice(comments)})
                writer.add(tasks_tables.task_history, R.history_row(
                    task_id, posted, "COMMENT", author, None, str(comment_id)))
    guarded = _guarded_tasks(demo, writer, first_id=len(plans) + 1, evening=evening)
    return {"tasks": len(plans) + guarded, "task_comments": comment_id}


def _guarded_tasks(demo: DemoPortal, writer: R.BulkWriter, *, first_id: int,
                   evening: Any) -> int:
    """Something for the deadline guard on the first start: each sales manager gets an open
    task from their head, due on an evening within the coming two weeks (2, 4, ... days from
    the portal's clock), whose deadline the responsible may move (ALLOW_CHANGE_DEADLINE=Y).
    Drawn without the random generator, so the rest of the demo stays as it was."""
    titles = demo.vocab.data["tasks"].get("guarded") or []
    managers = [(user, demo.heads[line["department"]]) for line in demo.lines
                for user in line["members"] if user != demo.heads[line["department"]]]
    created = demo.now - timedelta(days=1)
    for number, ((user, head), title) in enumerate(zip(managers, titles, strict=False)):
        task_id = first_id + number
        writer.add(tasks_tables.tasks, R.task_row(
            task_id, title=title, created_by=head, responsible_id=user, created=created,
            deadline=evening(2 + 2 * number), status=2, now=demo.now,
            allow_change_deadline=True))
        writer.add(tasks_tables.task_history, R.history_row(task_id, created, "NEW", head))
    return min(len(managers), len(titles))


def write_history(demo: DemoPortal, writer: R.BulkWriter) -> dict[str, int]:
    history = History(demo)
    for client in demo.clients:
        history.client_history(client)
    for lead in demo.leads:
        history.lead_history(lead)
    from simulator.core import tables as core_tables
    from simulator.scenarios.demo_cadence import SETTING, write_cases

    writer.add(core_tables.settings, {"key": SETTING, "value": write_cases(history)})
    return {**history.write(writer), **write_tasks(demo, writer)}

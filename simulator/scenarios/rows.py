"""Row builders shared by the demo portal and the large-portal generator.

Seeding writes rows directly (SQLAlchemy Core bulk inserts), so every builder here encodes the
storage conventions of the services' tables (``simulator/*/tables.py``) in one place: which
fields are promoted columns, what goes into ``fields`` under its old-API UPPER_CASE name, how
``closed`` is derived, how a call's outcome is recorded. Nothing here publishes events or
notices: seeding is the portal's history, not something happening now.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from pathlib import Path
from random import Random
from typing import Any

import yaml
from sqlalchemy import JSON, Integer, Table, func, select, text
from sqlalchemy.engine import Connection
from werkzeug.security import generate_password_hash

from simulator import db
from simulator.crm import deadline_of
from simulator.scenarios.errors import PortalNotEmpty
from simulator.users import tables as users_tables

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "demo"

# CRM entity type ids and the prefixes of CRM bindings (UF_CRM_TASK: "CO_3", "D_12", ...).
LEAD, DEAL, CONTACT, COMPANY, QUOTE, SMART_INVOICE = 1, 2, 3, 4, 7, 31
ABBR = {LEAD: "L", DEAL: "D", CONTACT: "C", COMPANY: "CO", QUOTE: "Q", SMART_INVOICE: "SI"}

# Activity types and directions (crm_enum_activitytype, reference §7).
MEETING, CALL, EMAIL = 1, 2, 4
INCOMING, OUTGOING = 1, 2

# The module that records each kind of activity (PROVIDER_ID, PROVIDER_TYPE_ID).
PROVIDERS = {MEETING: ("CRM_MEETING", "MEETING"), CALL: ("VOXIMPLANT_CALL", "CALL"),
             EMAIL: ("CRM_EMAIL", "EMAIL")}

# Telephony outcome codes kept in SETTINGS["CALL_FAILED_CODE"].
CONNECTED, MISSED, BUSY, DECLINED, UNAVAILABLE = "200", "304", "486", "603", "480"

# The company category enumeration (UF_CRM_CATEGORY, seed 004): list item ids per letter.
CATEGORY_FIELD = "UF_CRM_CATEGORY"
CATEGORY_ENUM_ID = {"A": "1", "B": "2", "C": "3"}
CATEGORY_LETTER = {v: k for k, v in CATEGORY_ENUM_ID.items()}

LEAD_STAGES = ("NEW", "IN_PROCESS", "PROCESSED", "CONVERTED", "JUNK")
DEAL_STAGES = ("NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE",
               "WON", "LOSE")
INVOICE_STAGES = ("DT31_1:N", "DT31_1:S", "DT31_1:P", "DT31_1:D")
INVOICE_CATEGORY = 1


def deal_stage(category_id: int, stage: str) -> str:
    """``WON`` in category 0, ``C1:WON`` in category 1 (the portal's stage id scheme)."""
    return stage if category_id == 0 else f"C{category_id}:{stage}"


def is_closed(entity_type_id: int, stage: str | None) -> bool:
    stage = stage or ""
    if entity_type_id == LEAD:
        return stage in ("CONVERTED", "JUNK")
    if entity_type_id == DEAL:
        return stage.endswith(("WON", "LOSE"))
    if entity_type_id == QUOTE:
        return stage in ("APPROVED", "DECLINED")
    if entity_type_id == SMART_INVOICE:
        return stage.endswith((":P", ":D"))
    return False


# -- fixtures and vocabulary -------------------------------------------------------------------
@cache
def read_fixture(name: str) -> dict[str, Any]:
    with (FIXTURES / f"{name}.yaml").open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


_TRANSLIT = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
     "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"],
    strict=True,
))


def translit(value: str) -> str:
    """Latin letters for e-mail addresses and web sites: ``СтройМаш`` -> ``stroymash``."""
    return "".join(_TRANSLIT.get(ch, ch) for ch in value.lower() if ch.isalnum())


def female_surname(surname: str) -> str:
    if surname.endswith("ский"):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ев", "ёв", "ин")):
        return surname + "а"
    return surname


class Vocabulary:
    """Names for clients and their people, drawn deterministically from ``clients.yaml``."""

    def __init__(self) -> None:
        self.data = read_fixture("clients")
        people = self.data["people"]
        self.male, self.female = people["male"], people["female"]
        self.surnames, self.patronymics = people["surnames"], people["patronymics"]

    def company_names(self, rng: Random, count: int) -> list[tuple[str, str]]:
        """``count`` distinct (title, site slug) pairs: ``ООО «СтройМаш»``, ``stroymash``."""
        bases = [r + s for r in self.data["company_roots"] for s in self.data["company_suffixes"]]
        rng.shuffle(bases)
        fixed = list(self.data["company_fixed"])
        names: list[tuple[str, str]] = []
        for index in range(count):
            if index % 20 == 7 and fixed:
                title = fixed.pop(0)
                names.append((title, translit(title.split("«")[-1])))
                continue
            base = bases[index % len(bases)]
            lap = index // len(bases)
            base = f"{base}-{lap + 1}" if lap else base
            form = rng.choice(self.data["legal_forms"])
            title = f"ИП {self.person(rng)[1]}" if form == "ИП" else f"{form} «{base}»"
            names.append((title, translit(base)))
        return names

    def person(self, rng: Random, gender: str | None = None) -> tuple[str, str, str, str]:
        """(first name, last name, patronymic, gender "M"/"F")."""
        gender = gender or rng.choice("MF")
        surname = rng.choice(self.surnames)
        male_p, female_p = rng.choice(self.patronymics)
        if gender == "F":
            return rng.choice(self.female), female_surname(surname), female_p, "F"
        return rng.choice(self.male), surname, male_p, "M"


def phone_number(rng: Random) -> str:
    code = rng.choice(("495", "499", "916", "926", "903", "985", "4822", "4872"))
    digits = f"{rng.randrange(10**6, 10**7):07d}"[: 10 - len(code)]
    return f"+7 ({code}) {digits[:-4]}-{digits[-4:-2]}-{digits[-2:]}"


class MultifieldIds:
    """PHONE / EMAIL / WEB items get ids unique across the portal, as on the portal."""

    def __init__(self) -> None:
        self.last = 0

    def items(self, *values: tuple[str, str]) -> list[dict[str, str]]:
        out = []
        for value, value_type in values:
            self.last += 1
            out.append({"ID": str(self.last), "VALUE": value, "VALUE_TYPE": value_type})
        return out


# -- time --------------------------------------------------------------------------------------
def local_day(now: datetime, tz: tzinfo, days: float) -> date:
    """The portal-local calendar day ``days`` from ``now`` (naive UTC)."""
    aware = (now + timedelta(days=days)).replace(tzinfo=UTC).astimezone(tz)
    return aware.date()


def at_local(day: date, tz: tzinfo, hour: int, minute: int = 0) -> datetime:
    """Portal-local ``day hour:minute`` as naive UTC."""
    return datetime.combine(day, time(hour, minute), tz).astimezone(UTC).replace(tzinfo=None)


def working_moment(rng: Random, now: datetime, tz: tzinfo, days: float) -> datetime:
    """A plausible office-hours moment around ``days`` from now (weekends move to a weekday);
    never later than ``now`` when ``days`` is in the past."""
    day = local_day(now, tz, days)
    while day.weekday() >= 5:
        day += timedelta(days=-1 if days <= 0 else 1)
    moment = at_local(day, tz, rng.randint(9, 17), rng.choice((0, 5, 10, 20, 30, 40, 45, 50)))
    if days <= 0 and moment > now:
        moment = now - timedelta(minutes=rng.randint(5, 90))
    return moment


# -- rows --------------------------------------------------------------------------------------
@cache
def password_hash(password: str) -> str:
    # One hash for every seeded user with the same password: hashing is deliberately slow,
    # and the simulator's people all share the demo password anyway.
    return generate_password_hash(password)


def department_row(dept_id: int, name: str, *, parent: int | None, head: int | None,
                   sort: int = 500) -> dict[str, Any]:
    return {"id": dept_id, "name": name, "sort": sort, "parent": parent, "head": head}


def user_row(user_id: int, *, name: str, last_name: str, second_name: str, email: str,
             position: str, departments: list[int], registered: datetime, password: str,
             is_admin: bool = False, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": user_id, "active": True, "is_admin": is_admin, "name": name,
        "last_name": last_name, "second_name": second_name, "email": email,
        "work_position": position, "departments": departments,
        "password_hash": password_hash(password), "webhook_token": None,
        "date_register": registered, "fields": fields or {},
    }


def category_userfield_row() -> dict[str, Any]:
    """The company category: a mandatory list field, items A, B, C (seed 004)."""
    items = [{"ID": enum_id, "VALUE": letter, "SORT": str(10 * int(enum_id)), "DEF": "N",
              "XML_ID": letter} for letter, enum_id in CATEGORY_ENUM_ID.items()]
    return {"entity_id": "CRM_COMPANY", "field_name": CATEGORY_FIELD,
            "user_type_id": "enumeration", "multiple": False, "mandatory": True,
            "label": "Категория клиента", "settings": {"LIST": items, "DISPLAY": "LIST"}}


def crm_row(item_id: int, entity_type_id: int, *, title: str, assigned: int, created: datetime,
            created_by: int | None = None, modified: datetime | None = None,
            stage: str | None = None, category_id: int | None = None,
            company_id: int | None = None, contact_id: int | None = None,
            opportunity: float | None = None, fields: dict[str, Any] | None = None,
            ) -> dict[str, Any]:
    return {
        "id": item_id, "entity_type_id": entity_type_id, "title": title,
        "assigned_by_id": assigned, "created_by_id": created_by or assigned,
        "modify_by_id": assigned, "date_create": created, "date_modify": modified or created,
        "stage_id": stage, "category_id": category_id,
        "closed": is_closed(entity_type_id, stage), "company_id": company_id,
        "contact_id": contact_id, "opportunity": opportunity, "fields": fields or {},
    }


def communication(kind: str, value: str, entity_type_id: int, entity_id: int) -> dict[str, Any]:
    return {"VALUE": value, "ENTITY_ID": entity_id, "ENTITY_TYPE_ID": entity_type_id,
            "TYPE": kind}


def activity_row(activity_id: int, *, owner: tuple[int, int], type_id: int, direction: int,
                 completed: bool, responsible_id: int, subject: str, start: datetime,
                 end: datetime | None = None, description: str = "",
                 communications: list[dict[str, Any]] | None = None,
                 outcome: str | None = None, priority: int = 2,
                 created: datetime | None = None) -> dict[str, Any]:
    """One activity. Calls and e-mails carry their provider as the portal's telephony and
    mail modules record them; the deadline comes from the times as for activities added over
    REST (simulator.crm.activity_fields.deadline_of: START_TIME for calls, meetings and
    e-mails)."""
    provider, provider_type = PROVIDERS.get(type_id, ("CRM_TODO", "TODO"))
    settings: dict[str, Any] = {"CALL_FAILED_CODE": outcome} if outcome else {}
    end = end or start
    # Written when it ends (a call, a sent e-mail) or arrives; planned ones pass ``created``.
    created = created or (end if completed else start)
    return {
        "id": activity_id, "owner_type_id": owner[0], "owner_id": owner[1], "type_id": type_id,
        "provider_id": provider, "direction": direction,
        "completed": completed, "status": 2 if completed else 1,
        "responsible_id": responsible_id, "author_id": responsible_id,
        "editor_id": responsible_id, "subject": subject, "description": description,
        "start_time": start, "end_time": end, "deadline": deadline_of(type_id, start, end),
        "created": created, "last_updated": max(created, end) if completed else created,
        "fields": {"COMMUNICATIONS": communications or [], "PRIORITY": priority,
                   "DESCRIPTION_TYPE": 1, "ORIGIN_ID": "", "SETTINGS": settings,
                   "PROVIDER_TYPE_ID": provider_type},
    }


def binding_rows(activity_id: int, owners: Iterable[tuple[int, int]]) -> list[dict[str, Any]]:
    seen: list[tuple[int, int]] = []
    for owner in owners:
        if owner not in seen:
            seen.append(owner)
    return [{"activity_id": activity_id, "owner_type_id": t, "owner_id": i} for t, i in seen]


def task_row(task_id: int, *, title: str, created_by: int, responsible_id: int,
             created: datetime, deadline: datetime | None, status: int, now: datetime,
             description: str = "", priority: int = 1, uf_crm_task: list[str] | None = None,
             accomplices: list[int] | None = None, auditors: list[int] | None = None,
             allow_change_deadline: bool = False, task_control: bool = False,
             ) -> dict[str, Any]:
    closed = status == 5
    changed = min(now, created + timedelta(days=1)) if status != 2 else created
    overdue = deadline is not None and deadline < now and not closed
    return {
        "id": task_id, "title": title, "description": description, "created_by": created_by,
        "responsible_id": responsible_id, "deadline": deadline, "status": status,
        "priority": priority, "allow_change_deadline": allow_change_deadline,
        "task_control": task_control, "group_id": 0, "created_date": created,
        "changed_date": changed, "closed_date": changed if closed else None,
        "uf_crm_task": uf_crm_task or [],
        "fields": {"ACCOMPLICES": accomplices or [], "AUDITORS": auditors or []},
        # Overdue before the portal's history starts: already told, so the deadline tick
        # does not flood inboxes with the past.
        "deadline_notice": "overdue" if overdue else None,
    }


def history_row(task_id: int, created: datetime, field: str, user_id: int,
                from_value: str | None = None, to_value: str | None = None) -> dict[str, Any]:
    return {"task_id": task_id, "created_date": created, "field": field,
            "from_value": from_value, "to_value": to_value, "user_id": user_id}


def absence_row(user_id: int, *, date_from: datetime, date_to: datetime, absence_type: str,
                name: str, modified: datetime) -> dict[str, Any]:
    return {"user_id": user_id, "date_from": date_from, "date_to": date_to,
            "absence_type": absence_type, "name": name, "date_modify": modified}


# -- writing -----------------------------------------------------------------------------------
def ensure_empty(conn: Connection) -> None:
    """Seeding writes explicit ids, so it only runs on an empty portal."""
    if conn.execute(select(func.count()).select_from(users_tables.users)).scalar_one():
        raise PortalNotEmpty()


class BulkWriter:
    """Buffers rows per table and writes them in chunks: ``conn.execute(table.insert(), rows)``
    (``executemany``), or PostgreSQL's COPY inside the same transaction when the driver is
    psycopg, measured four times faster there (13k against 48k rows/s on the test machine).
    Buffers are flushed in dependency order, so a binding never reaches the database before
    its activity."""

    def __init__(self, conn: Connection, *, chunk: int = 5000, progress: Any = None) -> None:
        self.conn = conn
        self.chunk = chunk
        self.progress = progress
        self.copy = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
        self.counts: dict[str, int] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._order = [t.name for t in db.metadata.sorted_tables]

    def add(self, table: Table, row: dict[str, Any]) -> None:
        buffer = self._buffers.setdefault(table.name, [])
        buffer.append(row)
        if len(buffer) >= self.chunk:
            self.flush()

    def extend(self, table: Table, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(table, row)

    def flush(self) -> None:
        for name in self._order:
            rows = self._buffers.pop(name, None)
            if not rows:
                continue
            table = db.metadata.tables[name]
            if self.copy:
                self._copy(table, rows)
            else:
                self.conn.execute(table.insert(), rows)
            self.counts[name] = self.counts.get(name, 0) + len(rows)
            if self.progress is not None:
                self.progress.update(len(rows))


    def _copy(self, table: Table, rows: list[dict[str, Any]]) -> None:
        names = list(rows[0])
        as_json = {n for n in names if isinstance(table.c[n].type, JSON)}
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n]) if n in as_json else row[n] for n in names])


def sync_sequences(conn: Connection) -> None:
    """PostgreSQL keeps a sequence per serial column; explicit ids do not move it, so move it
    past the largest id, or the next REST ``*.add`` would collide with seeded rows."""
    if conn.dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        if "id" not in table.c or not isinstance(table.c.id.type, Integer):
            continue
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
        ))


def progress_bar(total: int, enabled: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="rows", unit_scale=True, desc=desc, disable=not enabled,
                file=sys.stderr, leave=False)

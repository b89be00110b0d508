"""A portal for visit reports in numbers: three sales departments of four managers each (the
first of each is its head) over two deal pipelines, four service lines, and ``leads`` new leads,
each with a company and a contact. Used by bench/distribution.py and the killed-worker test.

``set_up`` writes the portal (simulator generator, then REST calls); ``configure`` gives the
extension its directory, lines and settings; ``report_lines`` says which 1-4 lines the
report on the ``n``-th lead ticks (the same in every run).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal_ext.directory.services import sync_directory
from portal_ext.distribution import services
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal
from simulator import Simulator
from simulator.scenarios.generator import generate

USERS = 16
# department id -> its managers (user ids); the generator's departments 3, 4, 5.
DEPARTMENTS = {3: (4, 5, 6, 7), 4: (8, 9, 10, 11), 5: (12, 13, 14, 15)}
LINES = [
    {"name": "Equipment", "department_id": 3, "category_id": 0, "stage_id": "NEW"},
    {"name": "Containers", "department_id": 4, "category_id": 1, "stage_id": "C1:NEW"},
    {"name": "Promotion", "department_id": 5, "category_id": 0, "stage_id": "NEW"},
    {"name": "Service", "department_id": 3, "category_id": 1, "stage_id": "C1:NEW"},
]


def set_up(sim: Simulator, leads: int) -> list[int]:
    """An empty portal with the departments above and ``leads`` new leads; their ids."""
    sim.reset()
    generate(sim, companies=0, contacts_per_company=0, activities=0, leads=0, deals=0,
             tasks=0, users=USERS, progress=False)
    for department, people in DEPARTMENTS.items():
        for uid in people:
            sim.call("user.update", {"ID": uid, "UF_DEPARTMENT": [department]})
        sim.call("department.update", {"ID": department, "UF_HEAD": people[0]})
    ids: list[int] = []
    for start in range(0, leads, 16):  # three adds per lead: 48 commands a batch
        cmd: dict[str, str] = {}
        for n in range(start, min(leads, start + 16)):
            cmd[f"co{n}"] = (f"crm.company.add?fields[TITLE]=Client%20{n}"
                             "&fields[UF_CRM_CATEGORY]=3")  # category C (mandatory)
            cmd[f"ct{n}"] = f"crm.contact.add?fields[NAME]=Contact&fields[LAST_NAME]={n}" \
                            f"&fields[COMPANY_ID]=$result[co{n}]"
            cmd[f"l{n}"] = (f"crm.lead.add?fields[TITLE]=Lead%20{n}&fields[STATUS_ID]=NEW"
                            f"&fields[COMPANY_ID]=$result[co{n}]"
                            f"&fields[CONTACT_ID]=$result[ct{n}]")
        body = sim.call("batch", {"halt": 1, "cmd": cmd})["result"]
        assert not body["result_error"], body["result_error"]
        ids.extend(int(body["result"][f"l{n}"]) for n in range(start, min(leads,
                                                                           start + 16)))
    return ids


def configure(*, portal: Portal, client: PortalClient, now: datetime,
              **settings: Any) -> list[int]:
    """The extension's directory, the four lines and the settings; the line ids."""
    sync_directory(portal=portal, client=client, now=now)
    kept = services.replace_lines(portal=portal, client=client, items=LINES)
    services.save_settings(portal=portal, actor=None, now=now, body={
        "default_strategy": "least_loaded", "main_strategy": "least_loaded", **settings})
    return [line.id for line in kept]


def report_lines(n: int, line_ids: list[int]) -> list[int]:
    """1-4 lines for the ``n``-th report (about 2.5 on average)."""
    count = 1 + (n * 7) % 4
    return [line_ids[(n + k) % len(line_ids)] for k in range(count)]

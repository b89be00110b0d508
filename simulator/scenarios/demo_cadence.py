"""The A/B/C cadence's tricky cases in the demo portal, each on a client of its own (all times
relative to the demo's now):

- ``deal_call``: its only contact is a connected call bound to one of its deals alone;
- ``missed_call``: only an incoming call that was missed (``SETTINGS.MISSED_CALL``);
- ``planned_call``: only a call planned for the coming days;
- ``failed_call``: only an outgoing call that failed: its activity is completed, as the
  portal's telephony leaves it, and only the call's statistics say busy (``486``);
- ``contact_email``: only an incoming e-mail bound to one of its contacts (still open);
- ``no_category``: a company whose category field is empty.

The clients are picked without the demo's random generator (the rest of the demo stays as it
was): long-standing A clients, in order, one per case; their usual history is replaced.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulator.scenarios import rows as R

if TYPE_CHECKING:
    from simulator.scenarios.demo import Client, DemoPortal
    from simulator.scenarios.demo_history import History

CASES = ("deal_call", "missed_call", "planned_call", "failed_call", "contact_email",
         "no_category")


def pick(demo: DemoPortal) -> dict[str, Client]:
    """One client per case: A clients known for over 130 days (the deal case needs a deal,
    the e-mail case a contact)."""
    chosen: dict[str, Client] = {}
    old = [c for c in demo.clients if c.category == "A" and c.lead is None]
    for case in CASES:
        for client in old:
            if client in chosen.values():
                continue
            if case == "deal_call" and not client.deals:
                continue
            if case == "contact_email" and not client.contacts:
                continue
            chosen[case] = client
            break
    return chosen


def _touches(client: Client, owners: list[tuple[int, int]]) -> bool:
    mine = {(R.COMPANY, client.id), *((R.CONTACT, c.id) for c in client.contacts),
            *((R.DEAL, d.id) for d in client.deals)}
    return any(owner in mine for owner in owners)


SETTING = "demo_cadence_cases"  # the simulator's setting: case -> company id


def write_cases(history: History) -> dict[str, int]:
    """Replace the picked clients' history with their case; returns case -> company id."""
    demo = history.demo
    chosen = pick(demo)
    history.planned = [item for item in history.planned
                       if not any(_touches(c, item[2]) for c in chosen.values())]
    now, tz = demo.now, demo.tz

    def moment(days: float, hour: int = 11) -> datetime:
        return R.at_local(R.local_day(now, tz, days), tz, hour)

    for case, client in chosen.items():
        phone = R.communication("PHONE", client.phone, R.COMPANY, client.id)
        if case == "deal_call":
            deal = client.deals[0]
            start = moment(-3)
            history.add([(R.DEAL, deal.id)], type_id=R.CALL, direction=R.OUTGOING, start=start,
                        end=start + timedelta(minutes=6), outcome=R.CONNECTED, completed=True,
                        subject="Исходящий звонок по сделке", responsible_id=client.manager,
                        communications=[R.communication("PHONE", client.phone, R.DEAL,
                                                        deal.id)])
        elif case == "missed_call":
            start = moment(-2)
            history.add([(R.COMPANY, client.id)], type_id=R.CALL, direction=R.INCOMING,
                        start=start, end=start + timedelta(seconds=20), outcome=R.MISSED,
                        completed=False, subject="Пропущенный звонок",
                        responsible_id=client.manager, communications=[phone])
        elif case == "planned_call":
            start = moment(2)
            history.add([(R.COMPANY, client.id)], type_id=R.CALL, direction=R.OUTGOING,
                        start=start, end=start + timedelta(minutes=15), completed=False,
                        created=now - timedelta(hours=5), subject="Позвонить клиенту",
                        responsible_id=client.manager, communications=[phone])
        elif case == "failed_call":
            start = moment(-1)
            history.add([(R.COMPANY, client.id)], type_id=R.CALL, direction=R.OUTGOING,
                        start=start, end=start + timedelta(seconds=25), completed=True,
                        statistic=R.BUSY, subject="Исходящий звонок",
                        responsible_id=client.manager, communications=[phone])
        elif case == "contact_email":
            contact = client.contacts[0]
            start = moment(-2, 15)
            history.add([(R.CONTACT, contact.id)], type_id=R.EMAIL, direction=R.INCOMING,
                        start=start, completed=False, subject="Запрос цены",
                        responsible_id=client.manager, communications=[R.communication(
                            "EMAIL", contact.email, R.CONTACT, contact.id)])
    return {case: client.id for case, client in chosen.items()}


def uncategorized(demo: DemoPortal) -> set[int]:
    """Ids of the companies written without a category."""
    client = pick(demo).get("no_category")
    return {client.id} if client is not None else set()


def statistic_row(number: int, kwargs: dict[str, Any],
                  owners: list[tuple[int, int]]) -> dict[str, Any] | None:
    """The telephony statistics record of a finished demo call (None for others)."""
    code = kwargs.get("statistic") or kwargs.get("outcome")
    if kwargs.get("type_id") != R.CALL or not code:
        return None
    start, end = kwargs["start"], kwargs.get("end") or kwargs["start"]
    seconds = int((end - start).total_seconds()) if code == R.CONNECTED else 0
    comm: dict[str, Any] = next(iter(kwargs.get("communications") or []), {})
    entity = {R.COMPANY: "COMPANY", R.CONTACT: "CONTACT", R.LEAD: "LEAD"}.get(
        int(comm.get("ENTITY_TYPE_ID") or 0))
    return {"id": number, "call_id": f"demo.{number}", "portal_user_id": kwargs["responsible_id"],
            "phone_number": comm.get("VALUE"),
            "call_type": 1 if kwargs.get("direction") == R.OUTGOING else 2,
            "call_duration": seconds, "call_start_date": start, "call_failed_code": str(code),
            "crm_entity_type": entity,
            "crm_entity_id": int(comm.get("ENTITY_ID") or 0) if entity else None,
            "crm_activity_id": number}

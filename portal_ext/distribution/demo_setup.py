"""The demo portal's distribution set-up (``flask demo``): one service line per business line
and marketing, each in its pipeline, and two field representatives. Only on a portal without
service lines, so an administrator's own set-up is never overwritten."""

from __future__ import annotations

from datetime import datetime

from portal_ext.directory.models import PortalUser
from portal_ext.distribution import services
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal

# Department name prefix -> (line name, pipeline name prefix, first stage code).
DEMO_LINES = (("Торг-Комс", "Спецтехника и оборудование", "Торг-Комс", "NEW"),
              ("ТК-Лифт", "Контейнеры", "ТК-Лифт", "NEW"),
              ("Маркетинг", "Продвижение и выставки", "Торг-Комс", "NEW"))
REPRESENTATIVES = ("m.grigorieva@demo.portal", "m.orlov@demo.portal")


def set_up_demo(*, portal: Portal, client: PortalClient, actor: PortalUser | None,
                now: datetime) -> int:
    """How many service lines it set up (0: the portal had some, or is not the demo)."""
    if services.lines(portal.id, retired=True):
        return 0
    categories = services.deal_categories(client)
    items = []
    for department_prefix, name, pipeline_prefix, stage in DEMO_LINES:
        department = next((d for d in services.departments(portal.id)
                           if d.name.startswith(department_prefix)), None)
        category = next((cid for cid, title in categories.items()
                         if title.startswith(pipeline_prefix)), None)
        if department is None or category is None:
            return 0
        items.append({"name": name, "department_id": department.portal_department_id,
                      "category_id": category,
                      "stage_id": f"C{category}:{stage}" if category else stage})
    services.replace_lines(portal=portal, client=client, items=items)
    people = [p.portal_user_id for p in services.people_by_email(portal.id, REPRESENTATIVES)]
    services.save_settings(portal=portal, actor=actor, now=now, body={
        "representative_ids": people, "default_strategy": "least_loaded",
        "main_strategy": "priority", "visit_tasks": True})
    return len(items)

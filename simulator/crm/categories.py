"""Deal pipelines (categories): which ``CATEGORY_ID`` values exist on the portal.

A portal always has the general pipeline, id 0; others are created in its UI. The simulator
keeps the list in the setting ``deal_categories`` (``[{"id": 0, "name": "..."}, ...]``), which
the seeders write (the demo: 0 "Торг-Комс", 1 "ТК-Лифт"); without it the portal has only the
general pipeline. ``crm.deal.add``/``crm.item.add`` refuse any other ``CATEGORY_ID``, and
``crm.category.list`` lists them ([D] api-reference/crm/universal/category/crm-category-list.md:
``{"categories": [{id, name, sort, entityTypeId, isDefault}]}``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core import tables as core_tables

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

SETTING = "deal_categories"
GENERAL = {"id": 0, "name": "General"}


def deal_categories(conn: Connection) -> list[dict[str, Any]]:
    """The deal pipelines, general one (id 0) first, each ``{"id", "name", "sort"}``."""
    stored = conn.execute(select(core_tables.settings.c.value)
                          .where(core_tables.settings.c.key == SETTING)).scalar()
    entries = [dict(e) for e in stored or [] if isinstance(e, dict) and "id" in e]
    if not any(int(e["id"]) == 0 for e in entries):
        entries.insert(0, dict(GENERAL))
    categories = [{"id": int(e["id"]), "name": str(e.get("name") or ""),
                   "sort": int(e.get("sort") or 100 * (index + 1))}
                  for index, e in enumerate(entries)]
    return sorted(categories, key=lambda c: (c["id"] != 0, c["sort"], c["id"]))


def deal_category_exists(conn: Connection, category_id: int) -> bool:
    return any(c["id"] == category_id for c in deal_categories(conn))

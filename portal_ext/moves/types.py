"""How each kind of portal item is listed, re-read and reassigned through the portal port.

The portal has three API families for the items a person is responsible for
(reference/bitrix24-rest.md §5-§9):

- the old CRM methods ``crm.{lead,deal,contact,company,quote}.{list,update}``: UPPER_CASE
  fields, the responsible is ``ASSIGNED_BY_ID``, user fields ``UF_CRM_*`` are created with
  ``crm.{type}.userfield.add``;
- the universal ``crm.item.*`` with ``entityTypeId=31`` for smart invoices: camelCase fields
  (``assignedById``), rows under ``items``; their user fields are managed with
  ``userfieldconfig.*`` (entityId ``CRM_SMART_INVOICE``) and written by their camelCase name;
- ``crm.activity.{list,update}`` and ``tasks.task.{list,update}`` with ``RESPONSIBLE_ID``
  (tasks answer camelCase rows under ``tasks``). Neither has CRM user fields, so for them the
  previous responsible is kept in the extension's journal only.

"Open" is what the portal's own lists call open: a lead not converted or junk, a deal or quote
not closed, a smart invoice not closed (paid or declined), an activity not completed, a task
not completed (status 5). Contacts and companies never close.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

PREV_FIELD = "UF_CRM_PREV_RESPONSIBLE"  # the portal prefixes UF_CRM_ (crm-lead-userfield-add)
PREV_FIELD_LABEL = "Previous responsible"


@dataclass(frozen=True)
class EntityKind:
    name: str
    label: Any  # lazy translated plural, for pages
    list_method: str
    update_method: str
    id_key: str  # the id in filters and order ("ID" | "id")
    responsible_key: str  # the responsible in list rows
    responsible_filter: str  # ... in filters and select
    responsible_field: str  # ... in update fields
    select: tuple[str, ...]
    title_keys: tuple[str, ...]  # row keys joined into a title
    open_filter: Mapping[str, Any]
    rows_key: str | None = None  # list results wrapped as {rows_key: [...]}
    base_params: Mapping[str, Any] = field(default_factory=dict)
    update_id_param: str = "id"
    in_prefix: str = "@"  # filter prefix for "id in [...]" ("" where a list means IN)
    uf_family: str | None = None  # crm.{family}.userfield.* manages the type's user fields
    uf_via_item_fields: bool = False  # smart invoices: find the field in crm.item.fields
    crm_type_id: int | None = None  # portal entity type id (for links)
    row_id_key: str = ""  # the id in list rows when it is not ``id_key`` (tasks: "id")

    def list_params(self, filter: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.base_params, "filter": dict(filter), "select": list(self.select),
                "order": {self.id_key: "ASC"}, "start": -1}

    def rows(self, result: Any) -> list[dict[str, Any]]:
        if self.rows_key and isinstance(result, Mapping):
            result = result.get(self.rows_key)
        return [dict(row) for row in (result or [])
                if type(row) is dict or isinstance(row, Mapping)]

    @property
    def id_in_rows(self) -> str:
        return self.row_id_key or self.id_key

    def row_id(self, row: Mapping[str, Any]) -> int:
        return int(row[self.id_in_rows])

    def responsible(self, row: Mapping[str, Any]) -> int | None:
        value = row.get(self.responsible_key)
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def title(self, row: Mapping[str, Any]) -> str:
        if len(self.title_keys) == 1:
            return str(row.get(self.title_keys[0]) or "").strip()[:255]
        parts = [str(row.get(k) or "").strip() for k in self.title_keys]
        return " ".join(p for p in parts if p)[:255]

    def update_params(self, entity_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.base_params, self.update_id_param: entity_id, "fields": dict(fields)}

    @property
    def has_user_fields(self) -> bool:
        return self.uf_family is not None or self.uf_via_item_fields


def _old_crm(name: str, label: Any, type_id: int, title_keys: tuple[str, ...],
             open_filter: Mapping[str, Any]) -> EntityKind:
    return EntityKind(
        name=name, label=label, list_method=f"crm.{name}.list",
        update_method=f"crm.{name}.update", id_key="ID", responsible_key="ASSIGNED_BY_ID",
        responsible_filter="ASSIGNED_BY_ID", responsible_field="ASSIGNED_BY_ID",
        select=("ID", "ASSIGNED_BY_ID", *title_keys, PREV_FIELD), title_keys=title_keys,
        open_filter=open_filter, uf_family=name, crm_type_id=type_id)


ENTITY_TYPES: dict[str, EntityKind] = {
    "lead": _old_crm("lead", _l("Leads"), 1, ("TITLE",),
                     {"!@STATUS_ID": ["CONVERTED", "JUNK"]}),
    "deal": _old_crm("deal", _l("Deals"), 2, ("TITLE",), {"CLOSED": "N"}),
    "contact": _old_crm("contact", _l("Contacts"), 3, ("NAME", "LAST_NAME"), {}),
    "company": _old_crm("company", _l("Companies"), 4, ("TITLE",), {}),
    "quote": _old_crm("quote", _l("Quotes"), 7, ("TITLE",), {"CLOSED": "N"}),
    "smart_invoice": EntityKind(
        name="smart_invoice", label=_l("Invoices"), list_method="crm.item.list",
        update_method="crm.item.update", id_key="id", responsible_key="assignedById",
        responsible_filter="assignedById", responsible_field="assignedById",
        select=("id", "assignedById", "title", "uf_*"), title_keys=("title",),
        open_filter={"closed": "N"}, rows_key="items", base_params={"entityTypeId": 31},
        uf_via_item_fields=True, crm_type_id=31),
    "activity": EntityKind(
        name="activity", label=_l("Activities"), list_method="crm.activity.list",
        update_method="crm.activity.update", id_key="ID", responsible_key="RESPONSIBLE_ID",
        responsible_filter="RESPONSIBLE_ID", responsible_field="RESPONSIBLE_ID",
        select=("ID", "RESPONSIBLE_ID", "SUBJECT", "OWNER_TYPE_ID", "OWNER_ID"),
        title_keys=("SUBJECT",), open_filter={"COMPLETED": "N"}),
    "task": EntityKind(
        name="task", label=_l("Tasks"), list_method="tasks.task.list",
        update_method="tasks.task.update", id_key="ID", responsible_key="responsibleId",
        responsible_filter="RESPONSIBLE_ID", responsible_field="RESPONSIBLE_ID",
        select=("ID", "RESPONSIBLE_ID", "TITLE"), title_keys=("title",),
        open_filter={"!STATUS": 5}, rows_key="tasks", update_id_param="taskId", in_prefix="",
        row_id_key="id"),
}
TYPE_NAMES: tuple[str, ...] = tuple(ENTITY_TYPES)
# The binding prefixes of CRM owners (an activity's OWNER_TYPE_ID) in "D_12" references.
OWNER_PREFIXES = {1: "L", 2: "D", 3: "C", 4: "CO", 7: "Q", 31: "SI"}
PREFIX_TYPES = {prefix: type_id for type_id, prefix in OWNER_PREFIXES.items()}


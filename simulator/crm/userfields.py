"""CRM user fields (``UF_CRM_*``) stored in ``sim_userfield``.

Facts mirrored ([D] api-reference/crm/leads/userfield/crm-lead-userfield-add.md, reference
§6.4): FIELD_NAME always gets the ``UF_CRM_`` prefix (``MANAGER_NOTE`` and ``UF_MANAGER_NOTE``
-> ``UF_CRM_MANAGER_NOTE``; ``UF_CRM_X`` stays); enumeration values get ids that items store
as strings; the company category is the enumeration ``UF_CRM_CATEGORY`` (A, B, C).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core import config_cache
from simulator.core.errors import FieldRequired
from simulator.core.listing import parse_bool
from simulator.crm import tables
from simulator.crm.entity_types import FieldDef
from simulator.crm.errors import InvalidUserFieldName, UserFieldExists

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

USER_TYPES = ("string", "integer", "double", "boolean", "date", "datetime", "enumeration",
              "employee", "crm")
_NAME_RE = re.compile(r"^UF_CRM_[A-Z0-9_]{1,43}$")


@dataclass(frozen=True)
class UserField:
    id: int
    entity_id: str  # CRM_DEAL, ...
    field_name: str
    user_type_id: str
    multiple: bool = False
    mandatory: bool = False
    label: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def items(self) -> list[dict[str, Any]]:
        """Enumeration values ``[{"ID": "1", "VALUE": "A", ...}]``."""
        return list(self.settings.get("LIST") or [])

    def item_id(self, value: str) -> str | None:
        """The id of the enumeration value spelled ``value`` (e.g. "A" -> "1")."""
        for item in self.items:
            if str(item.get("VALUE")) == value:
                return str(item["ID"])
        return None

    def item_value(self, item_id: object) -> str | None:
        for item in self.items:
            if str(item.get("ID")) == str(item_id):
                return str(item.get("VALUE"))
        return None

    def single(self) -> UserField:
        return replace(self, multiple=False)

    def as_field_def(self) -> FieldDef:
        return FieldDef(self.field_name, self.user_type_id, title=self.field_name,
                        multiple=self.multiple, required=self.mandatory)

    def description(self) -> dict[str, Any]:
        """The extra keys ``crm.*.fields`` gives a user field."""
        label = self.label or self.field_name
        info: dict[str, Any] = {"listLabel": label, "formLabel": label, "filterLabel": label,
                                "settings": dict(self.settings.get("SETTINGS") or {})}
        if self.user_type_id == "enumeration":
            info["items"] = [{"ID": str(i["ID"]), "VALUE": i.get("VALUE")} for i in self.items]
        return info

    def as_api(self) -> dict[str, Any]:
        """``crm.*.userfield.get`` shape."""
        label = self.label or self.field_name
        out: dict[str, Any] = {
            "ID": str(self.id), "ENTITY_ID": self.entity_id, "FIELD_NAME": self.field_name,
            "USER_TYPE_ID": self.user_type_id, "XML_ID": self.settings.get("XML_ID"),
            "SORT": str(self.settings.get("SORT", 100)),
            "MULTIPLE": "Y" if self.multiple else "N",
            "MANDATORY": "Y" if self.mandatory else "N",
            "SHOW_FILTER": self.settings.get("SHOW_FILTER", "E"),
            "SHOW_IN_LIST": self.settings.get("SHOW_IN_LIST", "Y"),
            "EDIT_IN_LIST": self.settings.get("EDIT_IN_LIST", "Y"),
            "IS_SEARCHABLE": self.settings.get("IS_SEARCHABLE", "N"),
            "SETTINGS": dict(self.settings.get("SETTINGS") or {}),
            "EDIT_FORM_LABEL": label, "LIST_COLUMN_LABEL": label, "LIST_FILTER_LABEL": label,
        }
        if self.user_type_id == "enumeration":
            out["LIST"] = [dict(item) for item in self.items]
        return out


def _from_row(row: Any) -> UserField:
    return UserField(id=row.id, entity_id=row.entity_id, field_name=row.field_name,
                     user_type_id=row.user_type_id, multiple=bool(row.multiple),
                     mandatory=bool(row.mandatory), label=row.label or "",
                     settings=dict(row.settings or {}))


def load_userfields(conn: Connection, uf_entity: str) -> list[UserField]:
    rows = conn.execute(select(tables.userfields).where(tables.userfields.c.entity_id == uf_entity)
                        .order_by(tables.userfields.c.id)).all()
    return [_from_row(row) for row in rows]


def get_userfield(conn: Connection, uf_entity: str, *, field_id: int | None = None,
                  field_name: str | None = None) -> UserField | None:
    stmt = select(tables.userfields).where(tables.userfields.c.entity_id == uf_entity)
    if field_id is not None:
        stmt = stmt.where(tables.userfields.c.id == field_id)
    if field_name is not None:
        stmt = stmt.where(tables.userfields.c.field_name == field_name)
    row = conn.execute(stmt).first()
    return None if row is None else _from_row(row)


def normalize_field_name(name: str) -> str:
    """The ``UF_CRM_`` prefix rule of ``crm.*.userfield.add``."""
    upper = name.strip().upper()
    if upper.startswith("UF_CRM_"):
        return upper
    if upper.startswith("UF_"):
        return "UF_CRM_" + upper[3:]
    return "UF_CRM_" + upper


def _label(fields: Mapping[str, Any]) -> str:
    for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LABEL", "LIST_FILTER_LABEL"):
        value = fields.get(key)
        if isinstance(value, Mapping):
            value = value.get("en") or next(iter(value.values()), "")
        if value:
            return str(value)
    return ""


def _next_enum_id(conn: Connection) -> int:
    highest = 0
    for settings in conn.execute(select(tables.userfields.c.settings)).scalars():
        for item in (settings or {}).get("LIST") or []:
            if str(item.get("ID", "")).isdigit():
                highest = max(highest, int(item["ID"]))
    return highest + 1


def _list_items(conn: Connection, raw: Any) -> list[dict[str, Any]]:
    entries = list(raw.values()) if isinstance(raw, Mapping) else list(raw or [])
    next_id = _next_enum_id(conn)
    items: list[dict[str, Any]] = []
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            entry = {"VALUE": entry}
        entry = {str(k).upper(): v for k, v in entry.items()}
        if entry.get("VALUE") in (None, ""):
            continue
        items.append({"ID": str(next_id), "SORT": str(entry.get("SORT") or position * 10),
                      "VALUE": str(entry["VALUE"]),
                      "DEF": "Y" if parse_bool(entry.get("DEF")) else "N",
                      "XML_ID": str(entry.get("XML_ID") or f"{next_id}")})
        next_id += 1
    return items


def create_userfield(conn: Connection, uf_entity: str, fields: Mapping[str, Any]) -> UserField:
    """Validate and store a new user field (the body of ``crm.*.userfield.add``)."""
    fields = {str(k).upper(): v for k, v in fields.items()}
    raw_name = str(fields.get("FIELD_NAME") or "").strip()
    if not raw_name:
        raise FieldRequired(name="FIELD_NAME")
    name = normalize_field_name(raw_name)
    if not _NAME_RE.match(name):
        raise InvalidUserFieldName(name=name)
    user_type = str(fields.get("USER_TYPE_ID") or "string").strip().lower()
    if user_type not in USER_TYPES:
        raise FieldRequired(name="USER_TYPE_ID")
    if get_userfield(conn, uf_entity, field_name=name) is not None:
        raise UserFieldExists(name=name)
    settings: dict[str, Any] = {
        "SORT": int(fields.get("SORT") or 100),
        "XML_ID": fields.get("XML_ID"),
        "SETTINGS": dict(fields.get("SETTINGS") or {}) if isinstance(
            fields.get("SETTINGS"), Mapping) else {},
    }
    for key in ("SHOW_FILTER", "SHOW_IN_LIST", "EDIT_IN_LIST", "IS_SEARCHABLE"):
        if fields.get(key) not in (None, ""):
            settings[key] = str(fields[key])
    if user_type == "enumeration":
        settings["LIST"] = _list_items(conn, fields.get("LIST"))
    row = {"entity_id": uf_entity, "field_name": name, "user_type_id": user_type,
           "multiple": bool(parse_bool(fields.get("MULTIPLE"))),
           "mandatory": bool(parse_bool(fields.get("MANDATORY"))),
           "label": _label(fields), "settings": settings}
    inserted = conn.execute(tables.userfields.insert().values(**row)).inserted_primary_key
    assert inserted is not None
    new_id = int(inserted[0])
    config_cache.changed(conn)
    created = get_userfield(conn, uf_entity, field_id=new_id)
    assert created is not None
    return created


def ensure_userfield(conn: Connection, uf_entity: str, field_name: str,
                     user_type_id: str = "string", *, values: Iterable[str] = (),
                     label: str = "", multiple: bool = False) -> UserField:
    """The user field, created if missing (for seeds and scenarios; no events)."""
    name = normalize_field_name(field_name)
    existing = get_userfield(conn, uf_entity, field_name=name)
    if existing is not None:
        return existing
    return create_userfield(conn, uf_entity, {
        "FIELD_NAME": name, "USER_TYPE_ID": user_type_id, "EDIT_FORM_LABEL": label,
        "MULTIPLE": "Y" if multiple else "N", "LIST": [{"VALUE": v} for v in values]})


def ensure_company_category(conn: Connection) -> UserField:
    """``UF_CRM_CATEGORY`` on companies: enumeration A, B, C (the brief's company category)."""
    return ensure_userfield(conn, "CRM_COMPANY", "UF_CRM_CATEGORY", "enumeration",
                            values=("A", "B", "C"), label="Category")

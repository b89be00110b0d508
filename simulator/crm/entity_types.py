"""CRM entity types and their standard fields, as the portal describes them in
``crm.*.fields`` ([D] api-reference/crm/{leads,deals,contacts,companies,quote}/crm-*-fields.md,
api-reference/crm/universal/invoice.md, reference §5, §6).

A :class:`FieldDef` says where a field lives in ``sim_crm_item`` (a promoted column or the
``fields`` JSON under its UPPER_CASE name) and how the two APIs spell and type it: the old
methods send strings (``"ID": "5"``), ``crm.item.*`` sends camelCase names and real ints.
Smart invoices (31) have no old API; their JSON keys are the UPPER_SNAKE form of the camelCase
names (``parentId2`` -> ``PARENT_ID_2``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

# Portal field types grouped by how values are stored and rendered.
INT_TYPES = {"integer", "user", "crm_company", "crm_contact", "crm_lead", "crm_deal",
             "crm_quote", "crm_category", "employee"}
FLOAT_TYPES = {"double", "money"}
DATE_TYPES = {"date"}
DATETIME_TYPES = {"datetime"}
CHAR_TYPES = {"char", "boolean"}


@dataclass(frozen=True)
class FieldDef:
    name: str  # old-API UPPER_CASE name (the JSON key unless ``column`` is set)
    type: str  # the portal's type name in *.fields
    title: str = ""
    column: str | None = None  # promoted sim_crm_item column
    required: bool = False
    read_only: bool = False
    immutable: bool = False
    multiple: bool = False
    status_type: str | None = None  # for crm_status fields
    camel: str | None = None  # crm.item name when not the plain camelCase of ``name``
    item_only: bool = False  # exists in crm.item only

    @cached_property
    def item_name(self) -> str:
        return self.camel or camel_case(self.name)

    @property
    def is_multifield(self) -> bool:
        return self.type == "crm_multifield"


@dataclass(frozen=True)
class EntityType:
    id: int
    name: str  # LEAD, DEAL, ..., SMART_INVOICE
    code: str  # the old method family: lead, deal, ... ("" for smart invoices)
    abbr: str  # prefix in crm-binding values: L, D, C, CO, Q, SI
    uf_entity: str  # CRM_LEAD, ...
    noun: str  # for people: "the deal"
    url: str  # item page on the portal
    fields: tuple[FieldDef, ...] = field(default_factory=tuple)

    @property
    def has_old_api(self) -> bool:
        return bool(self.code)

    @property
    def event_base(self) -> str:
        """ONCRMDEAL..., or ONCRMDYNAMICITEM for smart invoices ([D] universal/events)."""
        return f"ONCRM{self.name}" if self.has_old_api else "ONCRMDYNAMICITEM"

    def field(self, name: str) -> FieldDef | None:
        return self.by_name.get(name.upper())

    @cached_property
    def promoted(self) -> tuple[tuple[str, str], ...]:
        """(field name, column) of the fields kept in their own ``sim_crm_item`` column."""
        return tuple((d.name, d.column) for d in self.fields if d.column)

    @cached_property
    def by_name(self) -> dict[str, FieldDef]:
        """The standard fields by old-API name."""
        return {definition.name: definition for definition in self.fields}

    def item_url(self, item_id: int) -> str:
        return self.url.format(id=item_id)


def camel_case(name: str) -> str:
    """``UF_CRM_CATEGORY`` -> ``ufCrmCategory``, ``UF_CRM_1721244707107`` ->
    ``ufCrm_1721244707107``, ``UF_CRM_44_1721812760630`` -> ``ufCrm44_1721812760630`` (the
    portal's own samples in [D] api-reference/crm/universal/crm-item-add.md): a digit group
    keeps its underscore except a smart-process type id right after ``UF_CRM``."""
    parts = [p for p in name.split("_") if p]
    if not parts:
        return name
    out = parts[0].lower()
    for index, part in enumerate(parts[1:], start=1):
        if part.isdigit():
            type_id = index == 2 and parts[:2] == ["UF", "CRM"] and index + 1 < len(parts)
            out += part if type_id else "_" + part
        else:
            out += part[:1].upper() + part[1:].lower()
    return out


def upper_snake(name: str) -> str:
    """``parentId2`` -> ``PARENT_ID_2`` (JSON keys of smart-invoice-only fields)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])", "_", name)
    return spaced.upper()


# -- stages -----------------------------------------------------------------------------------
LEAD_STATUSES = ("NEW", "IN_PROCESS", "PROCESSED", "CONVERTED", "JUNK")
DEAL_STAGES = ("NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE",
               "WON", "LOSE")
QUOTE_STATUSES = ("DRAFT", "SENT", "RECEIVED", "APPROVED", "DECLINED")
SMART_INVOICE_CATEGORY = 1
SMART_INVOICE_STAGES = ("DT31_1:N", "DT31_1:S", "DT31_1:P", "DT31_1:D")


def deal_stages(category_id: int) -> tuple[str, ...]:
    if not category_id:
        return DEAL_STAGES
    return tuple(f"C{category_id}:{stage}" for stage in DEAL_STAGES)


def stages_for(entity_type_id: int, category_id: int | None) -> tuple[str, ...]:
    if entity_type_id == 1:
        return LEAD_STATUSES
    if entity_type_id == 2:
        return deal_stages(category_id or 0)
    if entity_type_id == 7:
        return QUOTE_STATUSES
    if entity_type_id == 31:
        return SMART_INVOICE_STAGES
    return ()


def is_closed(entity_type_id: int, stage_id: str | None) -> bool:
    """The storage convention's derived ``closed`` flag."""
    stage = stage_id or ""
    if entity_type_id == 1:
        return stage in ("CONVERTED", "JUNK")
    if entity_type_id == 2:
        return stage.split(":")[-1] in ("WON", "LOSE")
    if entity_type_id == 7:
        return stage in ("APPROVED", "DECLINED")
    if entity_type_id == 31:
        return stage.endswith((":P", ":D"))
    return False


def semantic(entity_type_id: int, stage_id: str | None) -> str:
    """STATUS_SEMANTIC_ID / STAGE_SEMANTIC_ID: P in progress, S success, F failure."""
    stage = (stage_id or "").split(":")[-1]
    success = {1: ("CONVERTED",), 2: ("WON",), 7: ("APPROVED",), 31: ("P",)}
    failure = {1: ("JUNK",), 2: ("LOSE",), 7: ("DECLINED",), 31: ("D",)}
    if stage in success.get(entity_type_id, ()):
        return "S"
    if stage in failure.get(entity_type_id, ()):
        return "F"
    return "P"


# -- standard fields ----------------------------------------------------------------------------
def _f(name: str, type_: str, title: str = "", **kw: object) -> FieldDef:
    return FieldDef(name, type_, title or name.replace("_", " ").capitalize(), **kw)  # type: ignore[arg-type]


_ID = _f("ID", "integer", "ID", column="id", read_only=True)
_AUDIT = (
    _f("ASSIGNED_BY_ID", "user", "Responsible person", column="assigned_by_id"),
    _f("CREATED_BY_ID", "user", "Created by", column="created_by_id", read_only=True,
       camel="createdBy"),
    _f("MODIFY_BY_ID", "user", "Modified by", column="modify_by_id", read_only=True,
       camel="updatedBy"),
    _f("DATE_CREATE", "datetime", "Created on", column="date_create", read_only=True,
       camel="createdTime"),
    _f("DATE_MODIFY", "datetime", "Modified on", column="date_modify", read_only=True,
       camel="updatedTime"),
    _f("OPENED", "char", "Available to everyone"),
    _f("LAST_ACTIVITY_TIME", "datetime", "Last activity", read_only=True),
    _f("LAST_ACTIVITY_BY", "user", "Last activity by", read_only=True),
)
_MONEY = (
    _f("OPPORTUNITY", "double", "Amount", column="opportunity"),
    _f("CURRENCY_ID", "crm_currency", "Currency"),
)
_MULTI = (
    _f("PHONE", "crm_multifield", "Phone", multiple=True),
    _f("EMAIL", "crm_multifield", "E-mail", multiple=True),
    _f("WEB", "crm_multifield", "Website", multiple=True),
    _f("IM", "crm_multifield", "Messenger", multiple=True),
)
_HAS = (
    _f("HAS_PHONE", "char", "Has phone", read_only=True),
    _f("HAS_EMAIL", "char", "Has e-mail", read_only=True),
)
_COMMUNICATION = (_f("LAST_COMMUNICATION_TIME", "datetime", "Last communication",
                     read_only=True),)

LEAD_FIELDS = (
    _ID, _f("TITLE", "string", "Lead name", column="title"),
    _f("NAME", "string", "First name"), _f("SECOND_NAME", "string", "Second name"),
    _f("LAST_NAME", "string", "Last name"), _f("COMPANY_TITLE", "string", "Company name"),
    _f("COMPANY_ID", "crm_company", "Company", column="company_id"),
    _f("CONTACT_ID", "crm_contact", "Contact", column="contact_id"),
    _f("POST", "string", "Position"),
    _f("SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", "string", "Source information"),
    _f("STATUS_ID", "crm_status", "Stage", column="stage_id", status_type="STATUS"),
    _f("STATUS_DESCRIPTION", "string", "Stage information"),
    _f("STATUS_SEMANTIC_ID", "string", "Status semantics", read_only=True,
       camel="stageSemanticId"),
    _f("COMMENTS", "string", "Comment"), *_MONEY, *_HAS, *_AUDIT, *_MULTI,
)

DEAL_FIELDS = (
    _ID, _f("TITLE", "string", "Name", column="title"),
    _f("TYPE_ID", "crm_status", "Type", status_type="DEAL_TYPE"),
    _f("CATEGORY_ID", "crm_category", "Pipeline", column="category_id", immutable=True),
    _f("STAGE_ID", "crm_status", "Stage", column="stage_id", status_type="DEAL_STAGE"),
    _f("STAGE_SEMANTIC_ID", "string", "Stage group", read_only=True),
    _f("IS_NEW", "char", "New deal", read_only=True),
    _f("PROBABILITY", "integer", "Probability"), *_MONEY,
    _f("COMPANY_ID", "crm_company", "Company", column="company_id"),
    _f("CONTACT_ID", "crm_contact", "Contact", column="contact_id"),
    _f("CONTACT_IDS", "crm_contact", "Contacts", multiple=True),
    _f("QUOTE_ID", "crm_quote", "Quote"), _f("LEAD_ID", "crm_lead", "Lead"),
    _f("BEGINDATE", "date", "Start date"), _f("CLOSEDATE", "date", "End date"),
    _f("CLOSED", "char", "Closed", column="closed", read_only=True),
    _f("COMMENTS", "string", "Comment"),
    _f("SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", "string", "Source information"),
    _f("ADDITIONAL_INFO", "string", "Additional information"),
    _f("MOVED_BY_ID", "user", "Stage changed by", read_only=True, camel="movedBy"),
    _f("MOVED_TIME", "datetime", "Stage changed on", read_only=True),
    # Set by whoever created the deal from outside: an application filters on them to find
    # what it created ([D] crm/deals/crm-deal-fields.md).
    _f("ORIGINATOR_ID", "string", "External source"),
    _f("ORIGIN_ID", "string", "Item ID in data source"),
    _f("OBSERVERS", "user", "Observers", multiple=True, item_only=True), *_AUDIT,
)

CONTACT_FIELDS = (
    _ID, _f("HONORIFIC", "crm_status", "Salutation", status_type="HONORIFIC"),
    _f("NAME", "string", "First name"), _f("SECOND_NAME", "string", "Second name"),
    _f("LAST_NAME", "string", "Last name"), _f("POST", "string", "Position"),
    _f("TYPE_ID", "crm_status", "Contact type", status_type="CONTACT_TYPE"),
    _f("SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", "string", "Source information"),
    _f("BIRTHDATE", "date", "Date of birth"), _f("COMMENTS", "string", "Comment"),
    _f("EXPORT", "char", "Included in export"),
    _f("COMPANY_ID", "crm_company", "Company", column="company_id"),
    _f("COMPANY_IDS", "crm_company", "Companies", multiple=True),
    _f("LEAD_ID", "crm_lead", "Lead"), *_HAS, *_AUDIT, *_COMMUNICATION, *_MULTI,
)

COMPANY_FIELDS = (
    _ID, _f("TITLE", "string", "Company name", column="title", required=True),
    _f("COMPANY_TYPE", "crm_status", "Company type", status_type="COMPANY_TYPE"),
    _f("INDUSTRY", "crm_status", "Industry", status_type="INDUSTRY"),
    _f("EMPLOYEES", "crm_status", "Employees", status_type="EMPLOYEES_LIST"),
    _f("REVENUE", "double", "Annual revenue"), _f("CURRENCY_ID", "crm_currency", "Currency"),
    _f("COMMENTS", "string", "Comment"), _f("IS_MY_COMPANY", "char", "My company"),
    _f("LEAD_ID", "crm_lead", "Lead"), *_HAS, *_AUDIT, *_COMMUNICATION, *_MULTI,
)

QUOTE_FIELDS = (
    _ID, _f("TITLE", "string", "Name", column="title"),
    _f("STATUS_ID", "crm_status", "Status", column="stage_id", status_type="QUOTE_STATUS"),
    _f("QUOTE_NUMBER", "string", "Quote #"), *_MONEY,
    _f("DEAL_ID", "crm_deal", "Deal"), _f("LEAD_ID", "crm_lead", "Lead"),
    _f("COMPANY_ID", "crm_company", "Company", column="company_id"),
    _f("CONTACT_ID", "crm_contact", "Contact", column="contact_id"),
    _f("CONTACT_IDS", "crm_contact", "Contacts", multiple=True),
    _f("MYCOMPANY_ID", "crm_company", "Your company details", camel="mycompanyId"),
    _f("BEGINDATE", "date", "Date created"), _f("CLOSEDATE", "date", "Expiration date"),
    _f("CLOSED", "char", "Closed", column="closed", read_only=True),
    _f("COMMENTS", "string", "Comment"), *_AUDIT,
)

SMART_INVOICE_FIELDS = (
    _ID, _f("TITLE", "string", "Name", column="title"),
    _f("ACCOUNT_NUMBER", "string", "Invoice #"),
    _f("CATEGORY_ID", "crm_category", "Pipeline", column="category_id", immutable=True),
    _f("STAGE_ID", "crm_status", "Stage", column="stage_id",
       status_type="SMART_INVOICE_STAGE_1"), *_MONEY,
    _f("COMPANY_ID", "crm_company", "Company", column="company_id"),
    _f("CONTACT_ID", "crm_contact", "Contact", column="contact_id"),
    _f("CONTACT_IDS", "crm_contact", "Contacts", multiple=True),
    _f("MYCOMPANY_ID", "crm_company", "Your company details", camel="mycompanyId"),
    _f("PARENT_ID_2", "crm_deal", "Deal", camel="parentId2"),
    _f("PARENT_ID_7", "crm_quote", "Quote", camel="parentId7"),
    _f("BEGINDATE", "date", "Invoice date"), _f("CLOSEDATE", "date", "Due date"),
    _f("CLOSED", "char", "Closed", column="closed", read_only=True),
    _f("COMMENTS", "string", "Comment"),
    _f("MOVED_BY_ID", "user", "Stage changed by", read_only=True, camel="movedBy"),
    _f("MOVED_TIME", "datetime", "Stage changed on", read_only=True),
    *(f for f in _AUDIT if f.name != "OPENED"),
)

ENTITY_TYPES: dict[int, EntityType] = {
    1: EntityType(1, "LEAD", "lead", "L", "CRM_LEAD", "lead", "/crm/lead/details/{id}/",
                  LEAD_FIELDS),
    2: EntityType(2, "DEAL", "deal", "D", "CRM_DEAL", "deal", "/crm/deal/details/{id}/",
                  DEAL_FIELDS),
    3: EntityType(3, "CONTACT", "contact", "C", "CRM_CONTACT", "contact",
                  "/crm/contact/details/{id}/", CONTACT_FIELDS),
    4: EntityType(4, "COMPANY", "company", "CO", "CRM_COMPANY", "company",
                  "/crm/company/details/{id}/", COMPANY_FIELDS),
    7: EntityType(7, "QUOTE", "quote", "Q", "CRM_QUOTE", "quote", "/crm/type/7/details/{id}/",
                  QUOTE_FIELDS),
    31: EntityType(31, "SMART_INVOICE", "", "SI", "CRM_SMART_INVOICE", "invoice",
                   "/crm/type/31/details/{id}/", SMART_INVOICE_FIELDS),
}
BY_CODE = {et.code: et for et in ENTITY_TYPES.values() if et.code}
BY_ABBR = {et.abbr: et for et in ENTITY_TYPES.values()}
BY_UF_ENTITY = {et.uf_entity: et for et in ENTITY_TYPES.values()}


def entity_type(key: int | str) -> EntityType:
    """By id (2), old-method code ("deal"), name ("DEAL") or UF entity ("CRM_DEAL")."""
    if isinstance(key, int) or str(key).isdigit():
        return ENTITY_TYPES[int(key)]
    text = str(key)
    if text.lower() in BY_CODE:
        return BY_CODE[text.lower()]
    for et in ENTITY_TYPES.values():
        if text.upper() in (et.name, et.uf_entity):
            return et
    raise KeyError(key)


def binding_value(entity_type_id: int, item_id: int) -> str:
    """``D_12``: how a CRM-binding user field or a task's UF_CRM_TASK names an item."""
    return f"{ENTITY_TYPES[entity_type_id].abbr}_{item_id}"

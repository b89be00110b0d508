"""The portal user field that shows a handed-over item's previous responsible.

Created over REST when missing, once per batch before its first write, and remembered in the
batch's options (``uf_fields``: type -> the name to write, or None for journal only):

- leads, deals, contacts, companies, quotes: ``crm.{type}.userfield.add`` with FIELD_NAME
  ``PREV_RESPONSIBLE``, which the portal stores as ``UF_CRM_PREV_RESPONSIBLE`` (it always
  prefixes ``UF_CRM_``: crm-lead-userfield-add.md), type ``employee`` (a user, shown with the
  person's name on the item's card);
- smart invoices: their user fields belong to ``userfieldconfig.*`` (entityId
  ``CRM_SMART_INVOICE``, reference §6.2) and are written through ``crm.item.update`` by their
  camelCase name. The field is looked up in ``crm.item.fields`` (any user field whose name
  ends with ``PrevResponsible``); when missing, ``userfieldconfig.add`` is tried, and a portal
  without that method (the bundled simulator) keeps the previous responsible in the journal
  only;
- activities and tasks have no CRM user fields: journal only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from portal_ext.moves.types import ENTITY_TYPES, PREV_FIELD, PREV_FIELD_LABEL, EntityKind
from portal_ext.portal.client import Command, PortalClient
from portal_ext.portal.errors import PortalError

if TYPE_CHECKING:  # the move journal's package uses this module
    from portal_ext.moves.models import MoveBatch

log = logging.getLogger(__name__)

SMART_INVOICE_FIELD = "UF_CRM_SMART_INVOICE_PREV_RESPONSIBLE"


def ensure_prev_fields(batch: MoveBatch, client: PortalClient) -> dict[str, str | None]:
    """Type -> user field name to write (None: journal only); asks the portal once per batch,
    every question in one ``batch`` request (a rate-limited portal counts requests)."""
    options = dict(batch.options or {})
    known = options.get("uf_fields")
    if isinstance(known, dict) and set(batch.types) <= set(known):
        return dict(known)
    kinds = [ENTITY_TYPES[name] for name in batch.types]
    questions: dict[str, Command] = {
        k.name: (f"crm.{k.uf_family}.userfield.list", {"filter": {"FIELD_NAME": PREV_FIELD}})
        for k in kinds if k.uf_family}
    questions.update({k.name: ("crm.item.fields", dict(k.base_params))
                      for k in kinds if k.uf_via_item_fields})
    answer = client.run_batch(questions)
    answers, errors = answer.results, answer.errors
    fields: dict[str, str | None] = {k.name: None for k in kinds}
    missing: list[EntityKind] = []
    for kind in kinds:
        if kind.name in errors:
            if errors[kind.name].transient:
                raise errors[kind.name]
            continue
        if kind.uf_family:
            found = _has_old_field(answers.get(kind.name))
            fields[kind.name] = PREV_FIELD if found else None
        elif kind.uf_via_item_fields:
            fields[kind.name] = _item_field_name(answers.get(kind.name))
        if kind.has_user_fields and fields[kind.name] is None:
            missing.append(kind)
    fields.update(_create_old_crm_fields(client, [k for k in missing if k.uf_family]))
    for kind in missing:
        if kind.uf_via_item_fields:
            fields[kind.name] = _create_item_field(client, kind)
    options["uf_fields"] = fields
    batch.options = options
    return fields


def _create_old_crm_fields(client: PortalClient, kinds: list[EntityKind]
                           ) -> dict[str, str | None]:
    """Add the field to every type lacking it (one ``batch``); a type whose add failed is
    asked again, since another worker may have created it a moment ago."""
    if not kinds:
        return {}
    adds: dict[str, Command] = {k.name: (f"crm.{k.uf_family}.userfield.add", {"fields": {
        "FIELD_NAME": "PREV_RESPONSIBLE", "USER_TYPE_ID": "employee",
        "EDIT_FORM_LABEL": PREV_FIELD_LABEL, "LIST_COLUMN_LABEL": PREV_FIELD_LABEL,
        "LIST_FILTER_LABEL": PREV_FIELD_LABEL, "SHOW_IN_LIST": "Y", "SHOW_FILTER": "Y",
        "XML_ID": "PREV_RESPONSIBLE"}}) for k in kinds}
    failed = client.run_batch(adds).errors
    out: dict[str, str | None] = {k.name: PREV_FIELD for k in kinds}
    if failed:
        again = client.run_batch({
            k.name: (f"crm.{k.uf_family}.userfield.list", {"filter": {"FIELD_NAME": PREV_FIELD}})
            for k in kinds if k.name in failed}).results
        for name, error in failed.items():
            if not _has_old_field(again.get(name)):
                if error.transient:
                    raise error
                log.warning("%s: cannot create %s (%s); journal only", name, PREV_FIELD, error)
                out[name] = None
    return out


def _has_old_field(found: Any) -> bool:
    return any(str(f.get("FIELD_NAME", "")).upper() == PREV_FIELD
               for f in (found or []) if isinstance(f, dict))


def _create_item_field(client: PortalClient, kind: EntityKind) -> str | None:
    try:
        client.call("userfieldconfig.add", {"moduleId": "crm", "field": {
            "entityId": "CRM_SMART_INVOICE", "fieldName": SMART_INVOICE_FIELD,
            "userTypeId": "employee", "editFormLabel": {"en": PREV_FIELD_LABEL}}})
    except PortalError as exc:
        if exc.transient:
            raise
        log.info("smart invoices: no %s (%s); the journal keeps the previous responsible",
                 SMART_INVOICE_FIELD, exc)
        return None
    return _item_field_name(client.call("crm.item.fields", dict(kind.base_params)))


def _item_field_name(described: Any) -> str | None:
    names = described.get("fields") if isinstance(described, dict) else None
    for name in names or {}:
        if str(name).lower().startswith("ufcrm") and \
                str(name).lower().endswith("prevresponsible"):
            return str(name)
    return None

"""``crm.category.list``: the pipelines (categories) of a CRM entity type.

Mirrors [D] api-reference/crm/universal/category/crm-category-list.md: ``entityTypeId`` is
required; the answer is ``{"categories": [{id, name, sort, entityTypeId, isDefault}]}`` with
``isDefault`` ``"Y"``/``"N"``, sorted by ``sort``. Deals (2) have the portal's pipelines
(simulator.crm.categories); smart invoices (31) their one category. The simulator gives other
simulated types no categories: they answer ``ENTITY_TYPE_NOT_SUPPORTED``, as an entity type
without pipelines does; 5 and unknown ids answer as ``crm.item.*`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.core.registry import method
from simulator.crm.categories import deal_categories
from simulator.crm.entity_types import SMART_INVOICE_CATEGORY
from simulator.crm.errors import EntityTypeNotSupported
from simulator.crm.item import entity_from_params

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params


@method("crm.category.list")
def category_list(ctx: Ctx, params: Params) -> dict[str, Any]:
    et = entity_from_params(params)
    if et.id == 2:
        found = deal_categories(ctx.conn)
    elif et.id == 31:
        found = [{"id": SMART_INVOICE_CATEGORY, "name": "Invoices", "sort": 500}]
    else:
        raise EntityTypeNotSupported(name=et.name)
    default = found[0]["id"] if et.id == 31 else 0
    return {"categories": [
        {"id": c["id"], "name": c["name"], "sort": c["sort"], "entityTypeId": et.id,
         "isDefault": "Y" if c["id"] == default else "N"}
        for c in sorted(found, key=lambda c: (c["sort"], c["id"]))]}

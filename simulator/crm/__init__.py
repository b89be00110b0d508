"""The CRM: the old per-entity methods ``crm.{lead,deal,contact,company,quote}.*`` and their
user fields (entities.py), ``crm.item.*`` (item.py), ``crm.category.list`` (category.py),
``crm.activity.*`` (activity.py) and ``crm.access.*`` (access.py); their entity types, field
schemas, input and row building (entity_types.py, fields.py, userfields.py, input.py, ops.py,
activity_fields.py, categories.py) and who may read and change what (rights.py)."""

from simulator.crm import access, activity, category, entities, item, statuses  # noqa: F401
from simulator.crm.activity import activity_add, activity_update
from simulator.crm.activity_fields import deadline_of

__all__ = ["activity_add", "activity_update", "deadline_of"]

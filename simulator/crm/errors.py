"""The CRM's errors, as the portal words them. The old per-entity methods answer HTTP 400 with
an empty code and the text only; ``crm.item.*``, ``crm.activity.binding.*`` and
``crm.access.*`` answer with a code (reference §6, [D] api-reference/crm/...)."""

from __future__ import annotations

from simulator.core.errors import NamedError


# -- the old per-entity methods (empty code) --------------------------------------------------
class OldAccessDenied(NamedError):
    text = "Access denied"


class UnknownUser(NamedError):
    text = "The field {name} refers to a user who does not exist: {user_id}"


class BindingOwnerNotFound(NamedError):
    text = "Could not build binding: the owner is not found"


class ParameterNotFound(NamedError):
    text = "Could not find value for parameter {{{name}}}"


class InvalidUserFieldName(NamedError):
    text = "Invalid FIELD_NAME: {name}"


class UserFieldExists(NamedError):
    text = 'A field with the name "{name}" already exists'


# -- crm.item.* ---------------------------------------------------------------------------------
class ItemReadDenied(NamedError):
    code, text = "ACCESS_DENIED", "You do not have permission to view this item"


class ItemAccessDenied(NamedError):
    """Changing an item, or an activity through ``crm.activity.binding.*``."""

    code, text = "ACCESS_DENIED", "Access denied"


class UnknownItem(NamedError):
    code, text = "NOT_FOUND", "Item not found"


class UnknownSmartProcess(NamedError):
    code, text = "NOT_FOUND", "SPA not found"


class EntityTypeNotSupported(NamedError):
    code, text = "ENTITY_TYPE_NOT_SUPPORTED", "Entity type {name} is not supported"


class ItemFieldRequired(NamedError):
    code, text = "CRM_FIELD_ERROR_REQUIRED", 'Field "{name}" is required'


class ItemFieldNotValid(NamedError):
    code, text = "CRM_FIELD_ERROR_VALUE_NOT_VALID", 'Invalid value of the field "{name}"'


class ItemFieldUnknownUser(NamedError):
    code = "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    text = UnknownUser.text


# -- crm.activity.binding.* ---------------------------------------------------------------------
class BindingParameterNotFound(NamedError):
    code, text = "100", "Could not find value for parameter {{{name}}}"


class EntityNotFound(NamedError):
    code, text = "NOT_FOUND", "Entity not found"


class OwnerNotFound(NamedError):
    code, text = "OWNER_NOT_FOUND", "Owner of the entity not found"


class ActivityAlreadyBound(NamedError):
    code, text = "ACTIVITY_IS_ALREADY_BOUND", "The activity is already bound to this entity"


class BindingNotFound(NamedError):
    code, text = "BINDING_NOT_FOUND", "Activity not linked to this entity"


class LastBindingCannotBeDeleted(NamedError):
    code, text = "LAST_BINDING_CANNOT_BE_DELETED", "Cannot delete the only binding of the activity"


# -- crm.access.* (simulator-only rights methods) -----------------------------------------------
class UserDismissed(NamedError):
    code, text = "INVALID_ARG_VALUE", "User {user_id} is dismissed"


class UnknownAccess(NamedError):
    code, text = "INVALID_ARG_VALUE", "Unknown access '{access}'; expected read"


class OwnItems(NamedError):
    code, text = "INVALID_ARG_VALUE", "A user already reads their own items"


class AccessUnknownFilterField(NamedError):
    code, text = "INVALID_ARG_VALUE", "Unknown filter field {name}"


class NotAUserId(NamedError):
    code, text = "INVALID_ARG_VALUE", "{name} must be a user id"

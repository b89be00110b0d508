"""The errors of ``user.*`` and ``department.*``, as the portal words them ([D]
api-reference/user/..., api-reference/departments/...): ``ERROR_CORE`` or ``ERROR_ARGUMENT``
with the portal's short texts."""

from __future__ import annotations

from simulator.core.errors import NamedError


# -- user.* -----------------------------------------------------------------------------------
class UserAccessDenied(NamedError):
    code, text = "ERROR_CORE", "access_denied"


class DepartmentIdsInvalid(NamedError):
    code, text = "ERROR_CORE", "UF_DEPARTMENT must list department ids"


class UnknownDepartment(NamedError):
    code, text = "ERROR_CORE", "Department {department_id} not found"


class WrongEmail(NamedError):
    code, text = "ERROR_ARGUMENT", "wrong_email"


class EmailTaken(NamedError):
    code, text = "ERROR_ARGUMENT", "User with this email already exists"


class NoExtranetField(NamedError):
    """The portal's answer to a user without departments; extranet users aren't simulated."""

    code, text = "ERROR_ARGUMENT", "no_extranet_field"


class ActiveNotYN(NamedError):
    code, text = "ERROR_CORE", "ACTIVE must be Y or N"


# -- department.* -------------------------------------------------------------------------------
class DepartmentAccessDenied(NamedError):
    code, text = "ERROR_CORE", "Access denied"


class DepartmentNameMissing(NamedError):
    code, text = "ERROR_CORE", "The department name is not provided.<br>"


class SortNotNumber(NamedError):
    code, text = "ERROR_CORE", "SORT must be a number"


class HeadNotFound(NamedError):
    code, text = "ERROR_CORE", "User {user_id} not found"


class ParentDepartmentNotFound(NamedError):
    code, text = "ERROR_CORE", "Parent department not found"


class DepartmentBelowItself(NamedError):
    code, text = "ERROR_CORE", "A department cannot be moved below itself"


class SecondTopDepartment(NamedError):
    code = "ERROR_CORE"
    text = "There can only be one top-level department in the company structure"


class DepartmentNotFound(NamedError):
    code, text = "ERROR_CORE", "Department not found"


class DepartmentNotEmpty(NamedError):
    code = "ERROR_CORE"
    text = "The department still has sub-departments or employees; move them first"

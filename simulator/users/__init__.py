"""Users and departments: ``user.*``, ``department.*``, ``profile`` (user.py, department.py,
profile.py), the people one transaction has read (people.py) and the company structure
(directory.py). Other services use the names exported here."""

from simulator.users import department, profile, user  # noqa: F401  (registers the methods)
from simulator.users.directory import heads_above, json_array_has, subordinate_ids
from simulator.users.people import department_rows, get_user, is_admin

__all__ = ["department_rows", "get_user", "heads_above", "is_admin", "json_array_has",
           "subordinate_ids"]

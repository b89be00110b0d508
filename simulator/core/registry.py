"""The table of REST methods. Each handler module registers its methods by the portal's own
names (lower case; lookups fold case, as the portal does)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params


@dataclass
class Page:
    """A list method's answer: ``result`` plus top-level ``total`` and ``next``."""

    result: Any
    total: int | None = None
    next: int | None = None


Handler = Callable[["Ctx", "Params"], Any]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    handler: Handler
    transactional: bool = True  # False for ``batch``, which runs each command on its own
    admin_only: bool = False


METHODS: dict[str, MethodSpec] = {}


def method(*names: str, transactional: bool = True, admin_only: bool = False
           ) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            METHODS[name.lower()] = MethodSpec(name.lower(), fn, transactional, admin_only)
        return fn

    return register

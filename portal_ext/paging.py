"""A page of a listing, as the pages and the JSON API show it, and the way listed times are
written. Shared by every domain's listings; nothing here reads or writes the database."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def iso(value: datetime | None) -> str | None:
    """Stored times are naive UTC; the API says so explicitly."""
    return None if value is None else value.isoformat(timespec="seconds") + "Z"

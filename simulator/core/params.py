"""Request parameters as the portal reads them: top-level names are case-insensitive
(the documentation's own examples send ``ID``/``FIELDS`` and ``id``/``fields``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from simulator.core.errors import NotAnObject, NotDefinedOrInvalid, SimError

Dict = dict  # ``Params.dict`` shadows the builtin inside the class body


class Params(Mapping[str, Any]):
    def __init__(self, raw: Mapping[str, Any] | None = None) -> None:
        self._raw: dict[str, Any] = dict(raw or {})
        self._folded = {str(k).lower(): v for k, v in self._raw.items()}

    def __getitem__(self, key: str) -> Any:
        return self._folded[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._folded

    def get(self, key: str, default: Any = None) -> Any:
        return self._folded.get(key.lower(), default)

    def first(self, *names: str, default: Any = None) -> Any:
        """The value of the first of ``names`` present (aliases such as ``id``/``taskId``)."""
        for name in names:
            if name.lower() in self._folded:
                return self._folded[name.lower()]
        return default

    def dict(self, key: str) -> Dict[str, Any]:
        """A nested object parameter such as ``fields`` or ``filter``; absent means empty."""
        value = self.get(key)
        if value is None or value == "" or value == []:
            return {}
        if isinstance(value, list):
            # PHP-style arrays with numeric keys arrive as lists; a filter can't be one.
            raise NotAnObject(key=key)
        if not isinstance(value, Mapping):
            raise NotAnObject(key=key)
        return dict(value)

    def filter(self, key: str = "filter") -> Dict[str, Any]:
        """A list filter, which may carry nested groups (``{"0": {"logic": "OR", ...}}``) sent
        as JSON objects, JSON lists or PHP-style ``filter[0][logic]=OR`` (which arrives as a
        list); see :func:`simulator.core.filtering.normalize_filter`."""
        from simulator.core.filtering import normalize_filter

        value = self.get(key)
        if value is None or value == "" or value == []:
            return {}
        normalized = normalize_filter(value)
        if normalized is None:
            raise NotAnObject(key=key)
        return normalized

    def int(self, *names: str, required: bool = True, error: SimError | None = None) -> int | None:
        value = self.first(*names)
        if value is None or value == "":
            if required:
                raise error or NotDefinedOrInvalid(name=names[0])
            return None
        try:
            number = int(str(value).strip())
        except ValueError:
            raise error or NotDefinedOrInvalid(name=names[0]) from None
        if number <= 0 and required:
            raise error or NotDefinedOrInvalid(name=names[0])
        return number

    @property
    def raw(self) -> Dict[str, Any]:
        return dict(self._raw)

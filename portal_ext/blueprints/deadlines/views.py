"""The deadline guard's pages (to come: the policies page, the request form)."""

from __future__ import annotations

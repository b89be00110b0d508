"""The deadline guard's jobs: none yet (requests are decided by people; the on-site veto and
the audit run on events)."""

from __future__ import annotations

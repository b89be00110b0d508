"""Telephony: ``voximplant.statistic.get`` and ``telephony.externalcall.register/finish``
(calls.py), the call statistics they keep (tables.py)."""

from simulator.telephony import calls  # noqa: F401  (registers the methods)

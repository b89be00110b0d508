"""Event subscriptions: ``event.bind/unbind/get``, ``events`` and ``event.offline.*``
(event.py). The bus that publishes the events is simulator.core.bus."""

from simulator.events import event  # noqa: F401  (registers the methods)

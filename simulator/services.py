"""The portal's services, one package each; importing them registers their REST methods
(simulator.core.registry). The transport's own methods (``batch``, ``server.time``) live in
simulator.core."""

from simulator import bizproc, calendar, crm, events, im, tasks, telephony, users
from simulator.core import batch, server

__all__ = ["batch", "bizproc", "calendar", "crm", "events", "im", "server", "tasks", "telephony",
           "users"]

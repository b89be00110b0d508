"""A faithful stand-in for a Bitrix24 portal: CRM, users, absences, tasks, notifications,
its REST API and its event bus. Never imports the extension."""

from simulator.errors import SimError, Veto
from simulator.events import SimEvent
from simulator.portal import Simulator

__all__ = ["SimError", "SimEvent", "Simulator", "Veto"]

"""A faithful stand-in for a Bitrix24 portal: CRM, users, absences, tasks, notifications,
its REST API and its event bus. Never imports the extension."""

from simulator.core.bus import SimEvent
from simulator.core.errors import SimError, Veto
from simulator.portal import Simulator

__all__ = ["SimError", "SimEvent", "Simulator", "Veto"]

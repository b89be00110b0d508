"""Event intake and processing (see intake, webhook, offline, processing, handlers)."""

from portal_ext.events.handlers import Veto, before, handles
from portal_ext.events.intake import accept_inprocess_event, before_inprocess_event
from portal_ext.events.portal_event import PortalEvent
from portal_ext.events.subscribers import inprocess_subscribers

__all__ = ["PortalEvent", "Veto", "accept_inprocess_event", "before", "before_inprocess_event",
           "handles", "inprocess_subscribers"]

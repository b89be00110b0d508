"""The portal port: every call to the portal goes through here."""

from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.transports import HttpTransport, InProcessTransport

__all__ = ["HttpTransport", "InProcessTransport", "PortalClient", "PortalError"]

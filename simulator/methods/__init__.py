"""REST method handlers, one module per area; importing them registers the methods."""

from simulator.methods import (  # noqa: F401
    activities,
    batch,
    crm,
    events_api,
    im,
    permissions,
    profile,
    server,
    tasks,
    users,
)

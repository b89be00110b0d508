"""The portal's automation for applications: robots an application registers
(``bizproc.robot.*``), their answers (``bizproc.event.send``), ``app.info`` (robots.py); the
automation rules per lead status and deal stage, which run the robots when an item enters
one (automation.py); and installing an application, which hands it its tokens (install.py)."""

from simulator.bizproc import robots  # noqa: F401
from simulator.bizproc.automation import (
    PlacementError,
    attach,
    flush,
    place_robot,
    placements,
    remove_placement,
    runs,
)
from simulator.bizproc.automation import robots as registered_robots
from simulator.bizproc.install import InstallError, install_app, installations

__all__ = ["InstallError", "PlacementError", "attach", "flush", "install_app", "installations",
           "place_robot", "placements", "registered_robots", "remove_placement", "runs"]

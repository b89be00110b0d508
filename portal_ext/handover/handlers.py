"""The handover reacts to no portal event of its own (portal_ext.events.handlers).

What starts and ends a handover is an absence beginning and ending, which the handover tick
notices in the stored absences (portal_ext.handover.tasks), however the absence arrived; the
absences' own handlers keep those up to date. A reaction to a portal event goes here.
"""

from __future__ import annotations

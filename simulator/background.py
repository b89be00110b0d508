"""Work a served portal does on its own, in daemon threads next to the web server:

- the portal's time-driven tick (:func:`simulator.ticks.tick`: task deadline notices) every
  ``tick_seconds`` — a real portal's agents run without anyone asking;
- optionally "portal life" (:func:`simulator.scenarios.life.run_life`), a round every
  ``life_seconds``, so a demo looks busy.

``python -m simulator serve`` starts them (``--tick-seconds``, ``--life``); setting the returned
event stops them. A failing round is logged and the loop goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.portal import Simulator

log = logging.getLogger(__name__)

DEFAULT_TICK_SECONDS = 30.0


def _tick_loop(sim: Simulator, every: float, stop: threading.Event) -> None:
    from simulator.ticks import tick

    while not stop.is_set():
        try:
            told = tick(sim)
            if any(told.values()):
                log.info("tick: %s", told)
        except Exception:
            log.exception("the portal's tick failed")
        stop.wait(every)


def _life_loop(sim: Simulator, every: float, stop: threading.Event) -> None:
    from simulator.scenarios.life import run_life

    while not stop.is_set():
        try:
            run_life(sim, interval=every, stop_event=stop)
        except Exception:
            log.exception("portal life failed; starting again")
            stop.wait(every)


def start(sim: Simulator, *, tick_seconds: float = DEFAULT_TICK_SECONDS,
          life_seconds: float | None = None) -> threading.Event:
    """Start the tick (unless ``tick_seconds`` is 0) and portal life (when ``life_seconds`` is
    given); returns the event that stops both."""
    stop = threading.Event()
    if tick_seconds > 0:
        threading.Thread(target=_tick_loop, args=(sim, tick_seconds, stop),
                         name="portal-tick", daemon=True).start()
    if life_seconds is not None and life_seconds > 0:
        threading.Thread(target=_life_loop, args=(sim, life_seconds, stop),
                         name="portal-life", daemon=True).start()
    return stop

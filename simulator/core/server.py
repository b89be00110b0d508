"""``server.time``: the portal's current time, ``YYYY-MM-DDThh:mm:ss±hh:mm`` ([D]
rest_help/general/server_time.php: "Права на выполнение: для всех", no parameters).

It follows the simulated clock, so a client can keep time with a frozen or moved portal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.core.registry import method

if TYPE_CHECKING:
    from simulator.core.context import Ctx
    from simulator.core.params import Params


@method("server.time")
def server_time(ctx: Ctx, params: Params) -> Any:
    return ctx.iso(ctx.now)

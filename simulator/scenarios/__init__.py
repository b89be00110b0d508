"""Seeds and generators: the demo portal, large portals, a day of portal life."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.portal import Simulator


def seed(sim: Simulator, *, fixture: str | None = "demo", **generator: Any) -> dict[str, Any]:
    if fixture == "demo":
        from simulator.scenarios.demo import load_demo

        return load_demo(sim)
    if fixture:
        from simulator.scenarios.errors import UnknownFixture

        raise UnknownFixture(fixture=fixture)
    from simulator.scenarios.generator import generate

    return generate(sim, **generator)

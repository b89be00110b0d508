"""The simulator's layers: ``simulator/core`` (context, registry, transport, bus, shared errors)
imports no service, and a service package reaches another service only through that package's
public names (``from simulator.users import get_user``), never its modules."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_layering import ROOT, imported_modules

SIM = ROOT / "simulator"
NOT_SERVICES = {"core", "web", "scenarios"}
SERVICES = sorted(p.name for p in SIM.iterdir()
                  if (p / "__init__.py").is_file() and p.name not in NOT_SERVICES)
# What sits above the services: it may import them, they may not import it.
ABOVE = ("simulator.portal", "simulator.services", "simulator.web", "simulator.scenarios",
         "simulator.ticks", "simulator.background", "simulator.__main__")


def _service_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "simulator" and len(parts) > 1 and parts[1] in SERVICES:
        return parts[1]
    return None


def _top_level_imports(path: Path) -> set[str]:
    """Imports outside ``if TYPE_CHECKING:`` blocks (those are for annotations only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_services_are_the_portals() -> None:
    assert set(SERVICES) >= {"crm", "tasks", "im", "users", "calendar", "events"}


def test_the_simulator_uses_absolute_imports_only() -> None:
    relative = [str(path.relative_to(ROOT)) for path in sorted(SIM.rglob("*.py"))
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert relative == []


def test_core_imports_no_service() -> None:
    bad = [f"{path.relative_to(ROOT)} imports {module}"
           for path in sorted((SIM / "core").rglob("*.py"))
           for module in imported_modules(path)
           if _service_of(module) is not None
           or (module.startswith(ABOVE) and module in _top_level_imports(path))]
    assert bad == []


def test_services_use_each_other_only_through_their_packages() -> None:
    bad = []
    for service in SERVICES:
        for path in sorted((SIM / service).rglob("*.py")):
            for module in imported_modules(path):
                other = _service_of(module)
                if other is not None and other != service and module != f"simulator.{other}":
                    bad.append(f"{path.relative_to(ROOT)} imports {module}")
                if module.startswith(ABOVE) and module in _top_level_imports(path):
                    bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert bad == []


def test_the_checks_see_a_reach_into_another_service(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from simulator.portal import Simulator\n"
                      "def f():\n    from simulator.users.people import get_user\n")
    assert _service_of("simulator.users.people") == "users"
    assert "simulator.users.people" in _top_level_imports(module)
    assert "simulator.portal" not in _top_level_imports(module)

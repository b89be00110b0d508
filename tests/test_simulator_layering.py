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


def _module_level_graph() -> dict[str, set[str]]:
    """simulator module -> the simulator modules it imports when it loads (not in functions,
    not for annotations). ``from simulator.core import batch`` names ``simulator.core.batch``."""
    paths = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in SIM.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        deps: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                subs = {f"{node.module}.{a.name}" for a in node.names} & paths.keys()
                deps |= subs or ({node.module} & paths.keys())
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names} & paths.keys()
        graph[name] = deps - {name, "simulator"}  # the root package loads first anyway
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str]:
        if node in path:
            return [*path[path.index(node):], node]
        if node in done:
            return []
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if found := visit(dep):
                return found
        path.pop()
        done.add(node)
        return []

    for start in sorted(graph):
        if found := visit(start):
            return found
    return []


def test_no_import_cycle_when_the_simulator_loads() -> None:
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle(_module_level_graph()) == []


def test_the_checks_see_a_reach_into_another_service(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from simulator.portal import Simulator\n"
                      "def f():\n    from simulator.users.people import get_user\n")
    assert _service_of("simulator.users.people") == "users"
    assert "simulator.users.people" in _top_level_imports(module)
    assert "simulator.portal" not in _top_level_imports(module)


def _expand(pattern: str) -> list[str]:
    """``crm.{lead,deal}.get`` -> ``crm.lead.get``, ``crm.deal.get``."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    end = pattern.index("}", start)
    return [name for choice in pattern[start + 1:end].split(",")
            for name in _expand(pattern[:start] + choice + pattern[end + 1:])]


def _documented_modules() -> dict[str, str]:
    text = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    table = text.split("### Where each method lives", 1)[1].split("\n### ", 1)[0]
    found: dict[str, str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[1].startswith("`simulator/"):
            continue
        module = cells[1].strip("`").removesuffix(".py").replace("/", ".")
        for pattern in _backticked(cells[0]):
            for name in _expand(pattern):
                assert name not in found, f"{name} is listed twice"
                found[name] = module
    return found


def _backticked(cell: str) -> list[str]:
    return cell.split("`")[1::2]


def test_the_docs_say_where_each_method_lives() -> None:
    import simulator.services  # noqa: F401
    from simulator.core.registry import METHODS

    registered = {name: spec.handler.__module__ for name, spec in METHODS.items()}
    assert _documented_modules() == registered

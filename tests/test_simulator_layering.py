"""The simulator's layers: ``simulator/core`` (context, registry, transport, bus, shared errors)
imports no service, and a service package reaches another service only through that package's
public names (``from simulator.users import get_user``), never its modules. Each service's
state is its own: its tables are defined in its ``tables.py`` (the shared ones in
``simulator/core/tables.py``) and no other service imports them."""

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


# -- state: each service's tables are its own ---------------------------------------------------
# A service asks another for what it needs through that package's public names
# (``simulator.users.get_user``), never through its tables. Where reading another service's
# tables is unavoidable, it is listed here with the reason: (service, what its modules import)
# -> why. Nothing is today.
ALLOWED_TABLE_IMPORTS: dict[tuple[str, str], str] = {}
# Foreign keys from one service's table to another service's: (table, referenced table) -> why.
ALLOWED_REFERENCES: dict[tuple[str, str], str] = {
    ("sim_absence", "sim_user"): "an absence is a user's: the absence chart may not name a user "
                                 "who does not exist",
}
SCHEMA_CALLS = {"Table", "MetaData", "declarative_base"}


def _schema_definitions(path: Path) -> list[str]:
    """``Table(...)``, ``MetaData()`` and ORM models (``declarative_base()``, a class on a
    ``DeclarativeBase`` or with ``__tablename__``) defined in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in SCHEMA_CALLS:
                found.append(f"{name}() on line {node.lineno}")
        elif isinstance(node, ast.ClassDef):
            bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
            named = any(isinstance(stmt, ast.Assign | ast.AnnAssign)
                        and "__tablename__" in ast.unparse(stmt) for stmt in node.body)
            if named or "DeclarativeBase" in bases:
                found.append(f"model {node.name} on line {node.lineno}")
    return found


def _table_owners() -> dict[str, str]:
    """Table name -> the package (a service, or ``core``) whose ``tables.py`` defines it."""
    import importlib

    from sqlalchemy import Table

    owners: dict[str, str] = {}
    for package in [*SERVICES, "core"]:
        if not (SIM / package / "tables.py").is_file():
            continue
        module = importlib.import_module(f"simulator.{package}.tables")
        for value in vars(module).values():
            if isinstance(value, Table):
                assert value.name not in owners, f"{value.name} is defined twice"
                owners[value.name] = package
    return owners


def _reaches_into_tables(path: Path, service: str) -> list[str]:
    """The tables of other services (or all of them, ``simulator.db``) a module imports: a
    ``tables`` module, or a table a package re-exports."""
    import importlib
    import types

    from sqlalchemy import Table

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        modules: list[tuple[str, str | None]] = []
        if isinstance(node, ast.Import):
            modules = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [(node.module, alias.name) for alias in node.names]
        for module, name in modules:
            if (module, name) == ("simulator", "db") or module == "simulator.db":
                found.append("simulator.db")
                continue
            other = _service_of(module) or ("core" if module.startswith("simulator.core") else None)
            if other is None or other in (service, "core"):
                continue
            if module.endswith(".tables") or name == "tables":
                found.append(f"{module}{'.' + name if name else ''}")
            elif name is not None:
                value = getattr(importlib.import_module(module), name, None)
                if isinstance(value, Table) or (isinstance(value, types.ModuleType)
                                                and value.__name__.endswith(".tables")):
                    found.append(f"{module}.{name}")
    return found


def test_tables_are_defined_only_in_tables_modules() -> None:
    bad = [f"{path.relative_to(ROOT)}: {found}"
           for path in sorted(SIM.rglob("*.py"))
           if not (path.name == "tables.py" and path.parent.name in [*SERVICES, "core"])
           for found in _schema_definitions(path)]
    assert bad == []
    metadata_calls = [str(path.relative_to(ROOT)) for path in sorted(SIM.rglob("*.py"))
                      if any(found.startswith("MetaData(") for found in _schema_definitions(path))]
    assert metadata_calls == ["simulator/core/tables.py"]


def test_every_table_is_on_the_one_schema_and_owned_once() -> None:
    from simulator import db

    owners = _table_owners()
    assert sorted(owners) == sorted(db.metadata.tables)
    assert {"crm", "tasks", "users", "calendar", "im", "core"} <= set(owners.values())


def test_a_service_reaches_no_other_services_tables() -> None:
    bad = [f"{path.relative_to(ROOT)} imports {found}"
           for service in [*SERVICES, "core"]
           for path in sorted((SIM / service).rglob("*.py"))
           for found in _reaches_into_tables(path, service)
           if (service, found) not in ALLOWED_TABLE_IMPORTS]
    assert bad == []


def test_a_table_references_another_services_only_where_listed() -> None:
    from simulator import db

    owners = _table_owners()
    references = {(table.name, key.column.table.name)
                  for table in db.metadata.sorted_tables for key in table.foreign_keys
                  if owners[key.column.table.name] not in (owners[table.name], "core")}
    assert references == set(ALLOWED_REFERENCES)


def test_ids_are_never_reused_in_any_service() -> None:
    from sqlalchemy import Integer

    from simulator import db

    reusing = [table.name for table in db.metadata.sorted_tables
               if len(table.primary_key.columns) == 1
               and isinstance(next(iter(table.primary_key.columns)).type, Integer)
               and not table.dialect_options["sqlite"]["autoincrement"]]
    assert reusing == []


def test_the_checks_see_tables_out_of_place(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from sqlalchemy import Table\nfrom simulator import db\n"
                      "from simulator.users import tables, get_user\n"
                      "from simulator.crm.tables import crm_items\n"
                      "from simulator.core.tables import metadata\n"
                      "t = Table('sim_x', metadata)\n"
                      "class Thing:\n    __tablename__ = 'sim_thing'\n")
    assert sorted(_schema_definitions(module)) == ["Table() on line 6", "model Thing on line 7"]
    assert sorted(_reaches_into_tables(module, "calendar")) == [
        "simulator.crm.tables.crm_items", "simulator.db", "simulator.users.tables"]
    assert sorted(_reaches_into_tables(module, "crm")) == ["simulator.db", "simulator.users.tables"]


def _documented_tables() -> dict[str, str]:
    """Table name -> package, from "Where state lives" in docs/simulator.md."""
    text = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    table = text.split("### Where state lives", 1)[1].split("\n---", 1)[0]
    found: dict[str, str] = {}
    package = ""
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`sim_"):
            continue
        if cells[0]:
            package = cells[0].strip("`").removesuffix("/tables.py")
        for name in _backticked(cells[1]):
            assert name not in found, f"{name} is listed twice"
            found[name] = package
    return found


def test_the_docs_say_where_each_table_lives() -> None:
    assert _documented_tables() == _table_owners()

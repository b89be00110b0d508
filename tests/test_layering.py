"""The two packages meet only in the composition root: ``portal_ext`` never imports
``simulator`` and ``simulator`` never imports ``portal_ext`` (found by parsing every import,
including ones inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return found


def offenders(package: str, forbidden: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            if module == forbidden or module.startswith(forbidden + "."):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    return bad


@pytest.mark.parametrize(("package", "forbidden"), [("portal_ext", "simulator"),
                                                    ("simulator", "portal_ext")])
def test_the_packages_do_not_import_each_other(package: str, forbidden: str) -> None:
    assert list((ROOT / package).rglob("*.py")), f"{package} has no modules"
    assert offenders(package, forbidden) == []


def test_the_check_sees_imports_anywhere(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from simulator.portal import Simulator\n"
                      "    import importlib\n    importlib.import_module('simulator.db')\n")
    assert imported_modules(module) >= {"simulator.portal", "simulator.db"}


def test_only_the_composition_root_imports_both() -> None:
    root = imported_modules(ROOT / "wsgi.py")
    assert any(m.startswith("simulator") for m in root)
    assert any(m.startswith("portal_ext") for m in root)

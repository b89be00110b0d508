"""The two packages meet only in the composition root: ``portal_ext`` never imports
``simulator`` and ``simulator`` never imports ``portal_ext`` (found by parsing every import,
including ones inside functions).

Inside ``portal_ext``, every domain of the manifest (portal_ext.domains) has the same files,
keeps its rules pure and never imports the web layer (``portal_ext.blueprints``)."""

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


# -- inside portal_ext: domains (portal_ext.domains) ------------------------------------------
def _domains() -> list[str]:
    from portal_ext.domains import DOMAINS

    return [domain.name for domain in DOMAINS]


# The errors module of these domains comes with their refusal classes (until then their
# error classes live beside the code raising them).
ERRORS_TO_COME = {"absences", "notifications", "handover", "transfers"}


def _file_set_cases() -> list[object]:
    from portal_ext.domains import FILE_SET

    cases: list[object] = []
    for name in _domains():
        for part in FILE_SET:
            marks = (pytest.mark.xfail(reason="errors module to come", strict=False)
                     if part == "errors" and name in ERRORS_TO_COME else ())
            cases.append(pytest.param(name, part, marks=marks, id=f"{name}.{part}"))
    return cases


@pytest.mark.parametrize("domain", _domains())
def test_no_domain_imports_the_web_layer(domain: str) -> None:
    assert offenders(f"portal_ext/{domain}", "portal_ext.blueprints") == []


@pytest.mark.parametrize(("domain", "part"), _file_set_cases())
def test_every_domain_has_the_file_set(domain: str, part: str) -> None:
    assert (ROOT / "portal_ext" / domain / f"{part}.py").is_file()


# What a rules module may import: nothing that reads the database, calls the portal or needs a
# request (constants from a models module are fine, the session is not).
IMPURE = ("portal_ext.extensions", "portal_ext.portal", "sqlalchemy", "flask", "flask_login",
          "requests", "httpx")


@pytest.mark.parametrize("domain", _domains())
def test_every_rules_module_is_pure_and_walks_an_example(domain: str) -> None:
    path = ROOT / "portal_ext" / domain / "rules.py"
    imports = imported_modules(path)
    assert [m for m in imports if any(m == bad or m.startswith(bad + ".") for bad in IMPURE)] == []
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert "worked example" in docstring.lower()


def test_the_manifest_names_real_packages() -> None:
    from portal_ext.domains import DOMAINS

    for domain in DOMAINS:
        assert (ROOT / "portal_ext" / domain.name / "__init__.py").is_file(), domain.name
        if domain.web is not None:
            assert (ROOT / "portal_ext" / "blueprints" / domain.web / "__init__.py").is_file()


def test_the_central_lists_come_from_the_manifest() -> None:
    from portal_ext import models, tasks
    from portal_ext.domains import DOMAINS
    from portal_ext.events import handlers

    for domain in DOMAINS:
        assert domain.module("models") in models.MODEL_MODULES
        assert domain.module("tasks") in tasks.JOB_MODULES
        assert domain.module("handlers") in handlers.HANDLER_MODULES

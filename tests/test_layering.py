"""The two packages meet only in the composition root: ``portal_ext`` never imports
``simulator`` and ``simulator`` never imports ``portal_ext`` (found by parsing every import,
including ones inside functions).

Inside ``portal_ext``, every domain of the manifest (portal_ext.domains) has the same files,
keeps its rules pure and never imports the web layer (``portal_ext.blueprints``); only the web
layer reads the request (``flask.request``, ``flask.session``, ``flask_login``)."""

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


# -- the move journal ----------------------------------------------------------------------------
# Only portal_ext/moves writes the move journal (the tables move_batch and move_item): the
# domains drive it through portal_ext.moves (plan, start applying, start restoring, cancel,
# discard, retry) and read it for their reports. What is checked, outside portal_ext/moves:
# - no SQL write names a journal table: no insert/update/delete of MoveBatch or MoveItem, no
#   use of their ``__table__``, no new MoveBatch(...) or MoveItem(...);
# - nothing assigns what the engine keeps on a batch (its state, counts, pace, lease, times and
#   error) and nothing deletes a batch: checked on every object whose name says it is a batch
#   (``batch``, ``preview_batch``...). A domain keeps its own facts about a batch in
#   ``options`` and may name its ``live_key`` and single successor (``to_user_id``);
# - ``MoveItem`` (the journal's rows) is imported only by the read-only modules below.
JOURNAL_MODELS = {"MoveBatch", "MoveItem"}
ENGINE_OWNED = {"state", "counts", "pace", "lease_until", "lease_token", "applied_at",
                "restored_at", "error"}
JOURNAL_READERS = {
    "portal_ext/handover/failures.py",  # counts of failed items
    "portal_ext/handover/new_leads.py",  # which clients moved (adopting goes through moves)
    "portal_ext/handover/report.py",
    "portal_ext/handover/summary.py",
    "portal_ext/notifications/own_moves.py",
    "portal_ext/transfers/report.py",
}
_WRITES = {"insert", "update", "delete"}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else \
        func.attr if isinstance(func, ast.Attribute) else ""


def journal_writes(path: Path, relative: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []

    def bad(node: ast.AST, what: str) -> None:
        found.append(f"{relative}:{getattr(node, 'lineno', 0)} {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and relative not in JOURNAL_READERS \
                and any(alias.name == "MoveItem" for alias in node.names):
            bad(node, "imports MoveItem")
        elif isinstance(node, ast.Attribute) and node.attr == "__table__" \
                and _names(node.value) & JOURNAL_MODELS:
            bad(node, "uses a journal table")
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name in JOURNAL_MODELS:
                bad(node, f"makes a {name}")
            elif name in _WRITES and any(_names(arg) & JOURNAL_MODELS for arg in node.args):
                bad(node, f"{name}s the journal")
            elif name == "delete" and any("batch" in n for arg in node.args
                                          for n in _names(arg)):
                bad(node, "deletes a batch")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for item in ast.walk(target):
                    if isinstance(item, ast.Attribute) and item.attr in ENGINE_OWNED \
                            and isinstance(item.value, ast.Name) and "batch" in item.value.id:
                        bad(item, f"sets {item.value.id}.{item.attr}")
    return found


def test_only_the_move_engine_writes_its_journal() -> None:
    bad: list[str] = []
    for path in sorted((ROOT / "portal_ext").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith("portal_ext/moves/"):
            bad += journal_writes(path, relative)
    assert bad == []
    assert all((ROOT / reader).is_file() for reader in JOURNAL_READERS)


def test_the_journal_check_sees_every_kind_of_write(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from portal_ext.moves.models import MoveBatch, MoveItem\n"
        "def f(batch, other_batch, dismissal):\n"
        "    db.session.execute(update(MoveItem).values(state='moved'))\n"
        "    table = MoveBatch.__table__\n"
        "    db.session.add(MoveBatch(kind='handover'))\n"
        "    batch.state, batch.options = 'applied', {}\n"
        "    other_batch.counts = {}\n"
        "    db.session.delete(batch)\n"
        "    dismissal.state = 'closed'\n"
        "    batch.options = {}\n")
    found = [line.split(" ", 1)[1] for line in journal_writes(module, "m.py")]
    assert sorted(found) == sorted([
        "imports MoveItem", "updates the journal", "uses a journal table", "makes a MoveBatch",
        "sets batch.state", "sets other_batch.counts", "deletes a batch"])


# -- inside portal_ext: domains (portal_ext.domains) ------------------------------------------
def _domains() -> list[str]:
    from portal_ext.domains import DOMAINS

    return [domain.name for domain in DOMAINS]


def _file_set_cases() -> list[object]:
    from portal_ext.domains import FILE_SET

    return [pytest.param(name, part, id=f"{name}.{part}")
            for name in _domains() for part in FILE_SET]


@pytest.mark.parametrize("domain", _domains())
def test_no_domain_imports_the_web_layer(domain: str) -> None:
    assert offenders(f"portal_ext/{domain}", "portal_ext.blueprints") == []


@pytest.mark.parametrize(("domain", "part"), _file_set_cases())
def test_every_domain_has_the_file_set(domain: str, part: str) -> None:
    assert (ROOT / "portal_ext" / domain / f"{part}.py").is_file()


@pytest.mark.parametrize("domain", _domains())
def test_the_move_engine_depends_on_no_domain(domain: str) -> None:
    """The engine serves every domain that changes owners: the kinds it moves, their portal
    calls and fields are its own (portal_ext/moves), and a domain hears of a run through
    ``moves.on_kind``."""
    assert offenders("portal_ext/moves", f"portal_ext.{domain}") == []


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


# -- the request stays in the web layer -------------------------------------------------------
# Services, jobs and handlers get what they need (the actor included) as arguments, usually
# through portal_ext.context; only these modules read the request, the session or the login.
REQUEST_NAMES = {"request", "session"}
REQUEST_READERS = {
    "portal_ext/blueprints/": "the web layer: pages and API routes",
    "portal_ext/auth/": "login, sessions, roles and API tokens guard the routes",
    "portal_ext/context.py": "builds a request's context from its logged-in user",
    "portal_ext/app.py": "app wiring",
    "portal_ext/extensions.py": "app wiring: the login manager",
    "portal_ext/i18n.py": "app wiring: the language of a request (its session, its headers)",
    "portal_ext/request_bounds.py": "app wiring: limits on an incoming request",
    "portal_ext/events/webhook.py": "the HTTP endpoint the portal posts its events to",
    "portal_ext/directory/models.py": "the user model is flask_login's user (UserMixin)",
}


def request_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "flask" and node.level == 0:
            found += [f"flask.{a.name}" for a in node.names if a.name in REQUEST_NAMES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and (
                node.module == "flask_login" or node.module.startswith("flask_login.")):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names
                      if a.name == "flask_login" or a.name.startswith("flask_login.")]
        elif isinstance(node, ast.Attribute) and node.attr in REQUEST_NAMES \
                and isinstance(node.value, ast.Name) and node.value.id == "flask":
            found.append(f"flask.{node.attr}")
    return found


def test_only_the_web_layer_reads_the_request() -> None:
    bad: list[str] = []
    for path in sorted((ROOT / "portal_ext").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if any(relative.startswith(allowed) for allowed in REQUEST_READERS):
            continue
        bad += [f"{relative} imports {name}" for name in request_reads(path)]
    assert bad == []
    assert all((ROOT / allowed).exists() for allowed in REQUEST_READERS)


def test_the_request_check_sees_every_way_in(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import flask\nfrom flask import current_app, request\n"
                      "def f():\n    from flask import session\n    import flask_login\n"
                      "    from flask_login import current_user\n    return flask.request\n")
    assert sorted(request_reads(module)) == sorted([
        "flask.request", "flask.session", "flask_login", "flask_login", "flask.request"])


# -- the portal port -----------------------------------------------------------------------------
# portal_ext/portal is the one place that knows the portal's wire format (batch, paging, query
# strings): nothing outside it reaches for one of its private names, neither by importing it
# (``from portal_ext.portal.client import _flatten``) nor through a module
# (``from portal_ext.portal import client`` ... ``client._section(...)``).
PORT = "portal_ext.portal"


def _is_port(module: str) -> bool:
    return module == PORT or module.startswith(PORT + ".")


def private_port_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()  # local names bound to a module of the port
    bad: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_port(alias.name):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and _is_port(node.module):
            for alias in node.names:
                if alias.name.startswith("_"):
                    bad.append(f"imports {node.module}.{alias.name}")
                elif (ROOT / (node.module + "." + alias.name).replace(".", "/")).with_suffix(
                        ".py").is_file():
                    modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__") and ast.unparse(node.value) in modules:
            bad.append(f"uses {ast.unparse(node)}")
    return bad


def test_nothing_outside_the_port_uses_its_private_names() -> None:
    found = []
    for path in sorted(ROOT.glob("*.py")) + sorted(
            p for top in ("portal_ext", "bench", "tests") for p in (ROOT / top).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith("portal_ext/portal/"):
            found += [f"{relative} {what}" for what in private_port_names(path)]
    assert found == []


def test_the_private_name_check_sees_both_ways_in(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from portal_ext.portal.client import PortalClient, _flatten\n"
        "from portal_ext.portal import clock\nimport portal_ext.portal.transports as wire\n"
        "clock._cache.clear()\nwire._checked({})\nclock.portal_now(None)\n")
    found = set(private_port_names(module))
    assert found == {"imports portal_ext.portal.client._flatten", "uses clock._cache",
                     "uses wire._checked"}

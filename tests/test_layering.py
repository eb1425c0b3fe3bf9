"""Imports go down, never up: read with `ast`, every import of a module counts
(also one inside a function, which hides a dependency from a reader of the top).

- bot/settings/ imports no Hamsafar module but itself; bot/text/ only bot.text and settings;
  bot/db.py only bot.settings (the model registry and start-up are bot.schema's).
- bot/ never imports actions/ (the action server's package sits on top of bot/).
- The touchpoints table is bot/touchpoints/'s (and bot/analytics/'s, the analysts' interface):
  elsewhere in bot/ and actions/ nobody imports its model or writes SQL against it; reads go
  through `bot.touchpoints.queries`, writes through `bot.touchpoints.store` / the recorder.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from tests.support.python_source import parse_python

ROOT = Path(__file__).resolve().parent.parent

# Low-level module (path relative to the project) -> the Hamsafar modules it may import (prefixes).
LOW_LEVEL: Dict[str, Tuple[str, ...]] = {
    "bot/settings/": ("bot.settings",),
    "bot/db.py": ("bot.settings",),
    "bot/text/": ("bot.text", "bot.settings"),
}


def module_of(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in `path`, relative ones resolved."""
    tree = parse_python(path)
    module = module_of(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name
            for alias in node.names:  # `from bot import schema` imports bot.schema
                yield node.lineno, f"{name}.{alias.name}"


def ours(name: str) -> bool:
    return name.split(".")[0] in ("bot", "actions")


def files(spec: str, root: Path = ROOT) -> List[Path]:
    target = root / spec
    return sorted(target.rglob("*.py")) if spec.endswith("/") else [target]


def upward_imports(spec: str, allowed: Tuple[str, ...], root: Path = ROOT) -> List[str]:
    found = []
    for path in files(spec, root):
        for line, name in imports(path, root):
            if not ours(name) or name in ("bot",) or any(name == a or name.startswith(a + ".") for a in allowed):
                continue
            # `from bot import settings` yields "bot" and "bot.settings": judge the full name only
            found.append(f"{path.relative_to(root)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("spec", sorted(LOW_LEVEL))
def test_low_level_modules_import_nothing_above_them(spec: str) -> None:
    assert files(spec) and all(p.exists() for p in files(spec))
    assert upward_imports(spec, LOW_LEVEL[spec]) == []


def test_bot_never_imports_actions() -> None:
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in sorted((ROOT / "bot").rglob("*.py"))
             for line, name in imports(path) if name == "actions" or name.startswith("actions.")]
    assert found == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The scan can fail: the function-level import db.py used to have, next to an allowed relative one."""
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "db.py").write_text(
        "def f():\n    from bot.analytics.views import create_views\n    from . import settings\n", encoding="utf-8")
    assert upward_imports("bot/db.py", LOW_LEVEL["bot/db.py"], tmp_path) == [
        "bot/db.py:2 imports bot.analytics.views",
        "bot/db.py:2 imports bot.analytics.views.create_views"]


# --------------------------------------------------------------------------- the touchpoints table
TOUCHPOINT_TABLE_OWNERS = ("bot/touchpoints/", "bot/analytics/")
# Names that hand out the table itself: its model module, and the table objects of the store and the queries.
TOUCHPOINT_TABLE_NAMES = ("bot.touchpoints.models", "bot.touchpoints.store.TABLE", "bot.touchpoints.queries.TP")
# bot/schema.py imports the models module only to register the table (MODEL_MODULES), never to query it.
TOUCHPOINT_MODEL_REGISTRY = ("bot/schema.py",)
# Raw SQL that reads or writes the table (`ALTER TABLE touchpoints` is a schema migration: see below).
TOUCHPOINT_SQL = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+touchpoints\b")


def touchpoint_table_uses(root: Path = ROOT) -> List[str]:
    """Every import of the touchpoint model or table, and every SQL string on it, outside its owners."""
    found = []
    for top in ("actions", "bot"):
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative.startswith(TOUCHPOINT_TABLE_OWNERS):
                continue
            for line, name in imports(path, root):
                if relative in TOUCHPOINT_MODEL_REGISTRY and name == "bot.touchpoints.models":
                    continue
                if any(name == n or name.startswith(n + ".") for n in TOUCHPOINT_TABLE_NAMES):
                    found.append(f"{relative}:{line} imports {name}")
            for node in ast.walk(parse_python(path)):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and TOUCHPOINT_SQL.search(node.value):
                    found.append(f"{relative}:{node.lineno} SQL on touchpoints")
    return found


def test_only_touchpoints_and_analytics_touch_the_touchpoints_table() -> None:
    """The orchestration package and the agent console read through bot.touchpoints.queries.

    One cross-package use remains, on purpose: migration `orchestration` 1 (bot/orchestration/models.py)
    adds the journey columns with `ALTER TABLE`; moving it would reorder upgrades of old databases
    (migrations run by module name, and `touchpoints` 2 needs those columns)."""
    assert touchpoint_table_uses() == []


def test_the_check_sees_a_touchpoint_table_read(tmp_path: Path) -> None:
    """The scan can fail: a lazy model import and raw SQL in a console module, a table import in actions/;
    the registry import of bot/schema.py and the owners' own imports pass."""
    for folder in ("bot/handoff/console", "bot/touchpoints", "bot/analytics", "actions"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "bot" / "handoff" / "console" / "_customer.py").write_text(
        "def panel(conn):\n    from bot.touchpoints.models import Touchpoint\n"
        "    return conn.execute(f\"SELECT count(*) FROM touchpoints WHERE id > {1}\")\n", encoding="utf-8")
    (tmp_path / "actions" / "recent.py").write_text("from bot.touchpoints.store import TABLE\n", encoding="utf-8")
    (tmp_path / "bot" / "schema.py").write_text("from bot.touchpoints import models as touchpoint_models\n",
                                                encoding="utf-8")
    (tmp_path / "bot" / "touchpoints" / "queries.py").write_text(
        "from bot.touchpoints.models import Touchpoint\n", encoding="utf-8")
    (tmp_path / "bot" / "analytics" / "views.py").write_text(
        "from bot.touchpoints.models import Touchpoint\nSQL = 'SELECT 1 FROM touchpoints t'\n", encoding="utf-8")
    (tmp_path / "bot" / "handoff" / "console" / "_ok.py").write_text(
        "from bot.touchpoints.queries import conversations_of\nfrom bot.touchpoints.store import insert_rows\n",
        encoding="utf-8")
    assert touchpoint_table_uses(tmp_path) == [
        "actions/recent.py:1 imports bot.touchpoints.store.TABLE",
        "bot/handoff/console/_customer.py:2 imports bot.touchpoints.models",
        "bot/handoff/console/_customer.py:2 imports bot.touchpoints.models.Touchpoint",
        "bot/handoff/console/_customer.py:3 SQL on touchpoints"]


def test_every_package_has_a_public_face() -> None:
    """Each package of bot/ and actions/ says what is public in `__all__` (httpx's way): every name
    is a module or subpackage of it, or defined in its `__init__`; every public module is listed."""
    problems: List[str] = []
    for init in sorted(list((ROOT / "bot").rglob("__init__.py")) + [ROOT / "actions" / "__init__.py"]):
        package = init.parent
        tree = parse_python(init)
        names: List[str] = []
        defined = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                names = [e.value for e in getattr(node.value, "elts", []) if isinstance(e, ast.Constant)]
            for target in getattr(node, "targets", []) + ([node.target] if isinstance(node, ast.AnnAssign) else []):
                defined.add(getattr(target, "id", None))
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                defined.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        where = package.relative_to(ROOT)
        if not names:
            problems.append(f"{where}: no __all__")
            continue
        submodules = {p.stem for p in package.glob("*.py")} | {p.name for p in package.iterdir()
                                                             if (p / "__init__.py").exists()}
        problems += [f"{where}: __all__ names {name!r}, which it does not have"
                     for name in names if name not in submodules and name not in defined]
        public = {m for m in submodules if not m.startswith("_")}
        if public - set(names) and not set(names) - submodules:   # a package that exports modules lists them all
            problems.append(f"{where}: public modules missing from __all__: {sorted(public - set(names))}")
    assert not problems, "\n".join(problems)

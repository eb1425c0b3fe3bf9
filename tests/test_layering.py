"""Imports go down, never up: read with `ast`, every import of a module counts
(also one inside a function, which hides a dependency from a reader of the top).

- bot/settings/ imports no Hamsafar module but itself; bot/text/ only bot.text and settings;
  bot/db.py only bot.settings (the model registry and start-up are bot.schema's).
- bot/ never imports actions/ (the action server's package sits on top of bot/).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

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
    tree = ast.parse(path.read_text(encoding="utf-8"))
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

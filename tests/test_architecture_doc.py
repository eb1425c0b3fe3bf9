"""docs/ARCHITECTURE.md names only what exists: every `bot/…` and `actions/…` path, every
entry of its `bot/` folder map, and every dotted `bot.…` name (a module, or a name
defined in one: function, class, constant, method)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import List, Optional, Set

from tests.support.python_source import parse_python

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"

PATH = re.compile(r"(?<![\w./-])((?:bot|actions)/[\w./-]*)")
DOTTED = re.compile(r"(?<![\w./-])(bot(?:\.\w+)+)")


def paths_named(text: str) -> Set[str]:
    return {match.rstrip(".-") for match in PATH.findall(text)}


def folder_map_entries(text: str) -> Set[str]:
    """`bot/<entry>` for each line of the first code block's `bot/` tree (two spaces, then a name)."""
    block = text.split("```")[1]
    lines = block.splitlines()
    start = lines.index("bot/")
    entries = set()
    for line in lines[start + 1:]:
        found = re.match(r"^  (\S+)", line)
        if found:
            entries.add("bot/" + found.group(1))
    return entries


def module_file(parts: List[str]) -> Optional[Path]:
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def defined_names(path: Path) -> Set[str]:
    """Top-level names of a module, and `Class.member` for its classes' members."""
    names: Set[str] = set()
    body = list(parse_python(path).body)
    for node in body:
        if isinstance(node, (ast.If, ast.Try)):  # `if GraphComponent is not None: class …`
            body += node.body + node.orelse + getattr(node, "finalbody", [])
            body += [n for handler in getattr(node, "handlers", []) for n in handler.body]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names |= {f"{node.name}.{member.name}" for member in node.body
                          if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def dotted_name_exists(name: str) -> bool:
    """`bot.a.b` is a module (file or package), or a module's name, or `Class.member` in it."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        path = module_file(parts[:cut])
        if path is not None:
            rest = ".".join(parts[cut:])
            return not rest or rest in defined_names(path)
    return False


def test_every_path_in_the_architecture_doc_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = paths_named(text) | folder_map_entries(text)
    assert len(named) > 30
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert missing == []


def test_every_dotted_name_in_the_architecture_doc_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = set(DOTTED.findall(text))
    assert len(names) > 20
    assert sorted(n for n in names if not dotted_name_exists(n)) == []


def test_the_checks_can_fail() -> None:
    assert paths_named("see `bot/no_such.py` and bot/db.py.") == {"bot/no_such.py", "bot/db.py"}
    assert not (ROOT / "bot/no_such.py").exists()
    assert dotted_name_exists("bot.schema.engine") and dotted_name_exists("bot.db")
    assert dotted_name_exists("bot.channels.base.ProactiveOutput.send_text")
    assert not dotted_name_exists("bot.db.init_db") and not dotted_name_exists("bot.nowhere")

"""Every module and every class in bot/ and actions/ says, in a docstring, why it exists (read with `ast`).

A nested `Config`/`Meta` class (pydantic, marshmallow) only configures its outer
class and is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List

from tests.support.python_source import parse_python

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION_CLASSES = ("Config", "Meta")


def classes_without_docstring(source: str, name: str) -> List[str]:
    missing = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                if not ast.get_docstring(child) and not (nested and child.name in CONFIGURATION_CLASSES):
                    missing.append(f"{name}:{child.lineno} class {child.name}")
                visit(child, True)
            else:
                visit(child, nested)

    visit(parse_python(source), False)
    return missing


def modules() -> List[Path]:
    return sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "actions").rglob("*.py"))


def module_without_docstring(source: str, name: str) -> List[str]:
    return [] if ast.get_docstring(parse_python(source)) else [f"{name}: no module docstring"]


def test_every_module_has_a_docstring() -> None:
    paths = modules()
    assert len(paths) > 50
    missing = [m for path in paths
               for m in module_without_docstring(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert missing == []


def test_the_check_sees_a_missing_module_docstring() -> None:
    assert module_without_docstring('"""Why."""\nx = 1\n', "a.py") == []
    assert module_without_docstring('# a comment is no docstring\nx = "not one either"\n', "b.py") == [
        "b.py: no module docstring"]


def test_every_class_has_a_docstring() -> None:
    paths = modules()
    assert len(paths) > 50
    missing = [m for path in paths
               for m in classes_without_docstring(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert missing == []


def test_the_check_sees_a_missing_docstring() -> None:
    source = ('class Settings:\n    """Why."""\n\n    class Config:\n        env_prefix = "X"\n\n'
              'class Bare:\n    pass\n\nclass Config:\n    x = 1\n')
    assert classes_without_docstring(source, "m.py") == ["m.py:7 class Bare", "m.py:10 class Config"]

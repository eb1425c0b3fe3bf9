"""The code-reading tests' parser survives a finalizer that parses during a garbage collection
(CPython 3.11's shared AST recursion counter, gh-106905; a CI run failed on it)."""

from __future__ import annotations

import ast
import gc
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support.python_source import parse_python

ROOT = Path(__file__).resolve().parent.parent
SOURCE = (ROOT / "bot" / "dialogue" / "cues.py").read_text(encoding="utf-8")


class _ParsesWhenCollected:
    """Freed only by the collector (a cycle); parses in its finalizer, as traceback formatting does."""

    def __init__(self) -> None:
        self.itself = self

    def __del__(self) -> None:
        ast.parse("x = (1 + 2) * 3")


@pytest.fixture
def frequent_collections() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.set_threshold(50)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.collect()


def parse_among_finalizers(parse: Callable[[str], ast.Module]) -> None:
    for _ in range(200):
        _ParsesWhenCollected()
    for _ in range(5):
        parse(SOURCE)


def test_plain_ast_parse_can_fail_this_way_here(frequent_collections: None) -> None:
    """Shows the hazard is real on this interpreter (3.11); skipped where CPython has fixed it."""
    try:
        parse_among_finalizers(ast.parse)
    except SystemError as error:
        assert "recursion depth mismatch" in str(error)
    else:
        pytest.skip("this Python's AST constructor keeps its recursion depth per call")


def test_parse_python_is_not_disturbed_by_a_finalizer_that_parses(frequent_collections: None) -> None:
    parse_among_finalizers(lambda source: parse_python(source))
    assert gc.isenabled()


def test_parse_python_reads_a_file() -> None:
    tree = parse_python(ROOT / "bot" / "dialogue" / "cues.py")
    assert any(isinstance(node, ast.FunctionDef) for node in tree.body)

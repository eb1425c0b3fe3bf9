"""Parse Python source for the code-reading tests, safe from a CPython 3.11 bug.

CPython 3.11.7 keeps the AST constructor's recursion depth in one interpreter-wide counter
(python/cpython gh-106905, fixed in 3.12). A garbage collection during `ast.parse` can run a
finalizer, such as asyncio's "Future exception was never retrieved" log line left by an
earlier test's RabbitMQ connection, whose traceback formatting calls `ast.parse` again; the
outer parse then fails with "SystemError: AST constructor recursion depth mismatch" (seen in
CI). Collection is paused for the parse only."""

from __future__ import annotations

import ast
import gc
from pathlib import Path
from typing import Union


def parse_python(source: Union[str, Path], filename: str = "<unknown>") -> ast.Module:
    """`ast.parse` of a source text or of a file's text, with no garbage collection meanwhile."""
    if isinstance(source, Path):
        filename, source = str(source), source.read_text(encoding="utf-8")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source, filename=filename)
    finally:
        if was_enabled:
            gc.enable()

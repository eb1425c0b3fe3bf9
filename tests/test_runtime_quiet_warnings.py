"""A process start shows our deprecations but not the wall of third-party ones Sanic turns on."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT

SCRIPT = """
import warnings
{install}
import sanic.app                  # turns every DeprecationWarning on ("once")
import sanic_cors                 # warns about distutils Version classes, deep in site-packages
warnings.warn_explicit("hamsafar-own-deprecation", DeprecationWarning, "bot/x.py", 1, module="bot.x", registry={{}})
"""
INSTALL = "from bot.runtime.quiet_warnings import quiet_third_party_deprecations; quiet_third_party_deprecations()"


def _stderr(install: str) -> str:
    return subprocess.run([sys.executable, "-c", SCRIPT.format(install=install)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120).stderr


def test_third_party_deprecations_are_hidden_and_ours_shown() -> None:
    without = _stderr("")
    assert "distutils Version classes are deprecated" in without   # what a start printed before
    quiet = _stderr(INSTALL)
    assert "distutils Version classes are deprecated" not in quiet
    assert "hamsafar-own-deprecation" in quiet

"""Our deprecation warnings show, third-party ones do not — through each way they got past.

The whole start (`hamsafar run`, both servers) is checked in tests/test_server.py
(`test_a_start_shows_our_deprecation_warnings_but_no_third_party_ones`); these
are the causes one by one, each in a bare process of a second or three.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

QUIET = "from bot.runtime import quiet_warnings; quiet_warnings.quiet_third_party_deprecations()"
AFTER_RASA = "quiet_warnings.keep_quiet_after_rasa_configures()"

OURS = """
warnings.warn_explicit("hamsafar-own-deprecation", DeprecationWarning, "bot/x.py", 1, module="bot.x", registry={{}})
"""

SANIC = """
import warnings
{install}
import sanic.app                  # turns every DeprecationWarning on ("once")
import sanic_cors                 # warns about distutils Version classes, deep in site-packages
""" + OURS

RASA = """
import warnings
{install}
import rasa.utils.common
rasa.utils.common.configure_logging_and_warnings()   # what Rasa's command line does first: "once" for UserWarning
from pyparsing.warnings import PyparsingDeprecationWarning   # a UserWarning and a DeprecationWarning
warnings.warn_explicit("third-party-pyparsing", PyparsingDeprecationWarning, "markers.py", 1,
                       module="packaging.markers", registry={{}})
""" + OURS


def _stderr(*args: str, timeout: int = 120) -> str:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout).stderr


def test_sanics_filter_is_covered_and_ours_shown() -> None:
    without = _stderr("-c", SANIC.format(install=""))
    assert "distutils Version classes are deprecated" in without   # what a start printed before
    quiet = _stderr("-c", SANIC.format(install=QUIET))
    assert "distutils Version classes are deprecated" not in quiet
    assert "hamsafar-own-deprecation" in quiet


def test_rasas_own_filters_do_not_bring_them_back() -> None:
    only_before_rasa = _stderr("-c", RASA.format(install=QUIET))
    assert "third-party-pyparsing" in only_before_rasa   # Rasa's "once" lay in front of ours
    quiet = _stderr("-c", RASA.format(install=f"{QUIET}; {AFTER_RASA}"))
    assert "third-party-pyparsing" not in quiet
    assert "hamsafar-own-deprecation" in quiet


def test_rasas_command_line_through_our_entry_is_quiet() -> None:
    """`hamsafar setup` trains with `python -m bot.runtime.quiet_warnings train …`; the bare `rasa`
    script printed "Nesting argument groups is deprecated" (Rasa's own argparse) among others."""
    result = subprocess.run([sys.executable, "-m", "bot.runtime.quiet_warnings", "--version"], cwd=PROJECT_ROOT,
                            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Rasa Version" in result.stdout
    assert "Warning" not in result.stderr, result.stderr

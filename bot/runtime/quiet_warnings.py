"""Third-party deprecation warnings off, ours on.

A bot start printed a wall of deprecation warnings about code inside
TensorFlow, Keras, pkg_resources, packaging/pyparsing, Click or sanic_cors —
nothing an operator can act on, and it hid the lines that matter. What let
them through, each closed here or where the process starts:

- Importing Sanic turns every DeprecationWarning on for the whole process
  (`filterwarnings("once", category=DeprecationWarning)` in sanic/app.py).
  Sanic is imported before our filters, so theirs lies underneath.
- Rasa's command line then puts `filterwarnings("once", category=UserWarning)`
  in front of every filter (`rasa.utils.common._filter_warnings`). pyparsing's
  `PyparsingDeprecationWarning` is a UserWarning *and* a DeprecationWarning, so
  that filter matched first and the old `packaging` Rasa pins printed its
  pyparsing deprecations at every model load. Ours go back in front right after.
- `rasa train` ran as the bare `rasa` script, which never ran our code:
  `python -m bot.runtime.quiet_warnings train ...` is Rasa's command line with
  the filters installed first (`hamsafar setup` trains this way).
- The action server imported rasa_sdk (and sanic_cors) at module level, before
  its `main()` installed the filters (bot/runtime/action_server.py now imports
  them after).

Deprecations raised from our own packages still show, and every other
warning category is untouched (Rasa's UserWarnings about our data included).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

# Modules whose deprecation warnings are ours to fix (matched at the start of the module name).
OUR_MODULES = r"(bot|actions|bench|tests)(\.|$)"


def _install_filters() -> None:
    # Rasa 3.6 raises this on every domain load, whatever the domain holds (slot_mappings.py)
    warnings.filterwarnings("ignore", message="Slot auto-fill has been removed in 3.0", category=UserWarning)
    # Rasa's training checks look for DIET/CRF only; since DIET left config.yml (docs/nlu.md,
    # "Training cost") entities come from our rules and the lookup-table features feed our linear
    # classifier, so these two are wrong about this pipeline.
    for expected in ("entity examples, but your NLU configuration does not include an entity extractor",
                     "lookup tables, but your NLU configuration does not include any components that uses"):
        warnings.filterwarnings("ignore", message=f"You have defined training data consisting of {expected}",
                                category=UserWarning)
    for category in (DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", category=category, module=OUR_MODULES)


def quiet_third_party_deprecations() -> None:
    """Install the filters; call first thing in a process's entry point.

    Sanic is imported here first so that its filter lies underneath ours
    (`filterwarnings` puts the newest filter in front)."""
    import sanic.app  # noqa: F401 - its import installs the filter ours must cover

    _install_filters()


def keep_quiet_after_rasa_configures() -> None:
    """Put our filters back in front each time Rasa's command line sets up its own.

    Call before `rasa.__main__.main()`; it imports Rasa (numpy, not TensorFlow)."""
    import rasa.utils.common as rasa_common

    original: Callable[..., None] = rasa_common._filter_warnings
    if getattr(original, "hamsafar_quiet", False):
        return

    @functools.wraps(original)
    def filter_warnings(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        _install_filters()

    filter_warnings.hamsafar_quiet = True  # type: ignore[attr-defined]
    rasa_common._filter_warnings = filter_warnings


def main() -> None:
    """Rasa's own command line (any `rasa` arguments) with our filters in place."""
    quiet_third_party_deprecations()
    keep_quiet_after_rasa_configures()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()

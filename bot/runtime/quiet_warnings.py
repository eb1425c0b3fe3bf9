"""Third-party deprecation warnings off, ours on.

Importing Sanic turns every DeprecationWarning on for the whole process
(`filterwarnings("once", category=DeprecationWarning)` in sanic/app.py), so a
bot start printed some twenty warnings about code inside TensorFlow, Keras,
pkg_resources, pyparsing or sanic_cors — nothing an operator can act on, and a
wall that hides the lines that matter. Deprecations raised from our own
packages still show, and every other warning category is untouched.
"""

from __future__ import annotations

import warnings

# Modules whose deprecation warnings are ours to fix (matched at the start of the module name).
OUR_MODULES = r"(bot|actions|bench|tests)(\.|$)"


def quiet_third_party_deprecations() -> None:
    """Install the filters; call first thing in a process's entry point.

    Sanic is imported here first so that its filter lies underneath ours
    (`filterwarnings` puts the newest filter in front)."""
    import sanic.app  # noqa: F401 - its import installs the filter ours must cover

    # Rasa 3.6 raises this on every domain load, whatever the domain holds (slot_mappings.py)
    warnings.filterwarnings("ignore", message="Slot auto-fill has been removed in 3.0", category=UserWarning)
    for category in (DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", category=category, module=OUR_MODULES)

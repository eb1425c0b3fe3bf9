"""Everything `hamsafar run` needs before the servers start, each step timed.

Steps: the blank spaCy pipeline on disk, the database schema, the demo shop
(only into an empty database), and a Rasa model matching the current data and
config (Rasa's own fingerprint check decides whether to retrain).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

from bot import settings

MODELS_DIR = settings.PROJECT_ROOT / "models"


@contextmanager
def timed(label: str, log: List[str], starting: Optional[str] = None) -> Iterator[None]:
    """Print `starting` (for a step long enough to wonder about), run the step, print its time."""
    if starting:
        print(f"[hamsafar] {starting}", flush=True)
    start = time.monotonic()
    yield
    log.append(f"{label}: {time.monotonic() - start:.1f}s")
    print(f"[hamsafar] {log[-1]}", flush=True)


def rasa_command() -> List[str]:
    """Rasa's command line in the running interpreter (the project's venv), with the
    third-party deprecation warnings filtered (bot/runtime/quiet_warnings.py): the bare
    `rasa` script printed some twenty of them before training."""
    return [sys.executable, "-m", "bot.runtime.quiet_warnings"]


def child_environment(extra: Optional[dict] = None) -> dict:
    """Environment for Rasa processes: telemetry off, database URL always set."""
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["HAMSAFAR_DATABASE_URL"] = settings.database_url()
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra or {})
    return env


def prepare_spacy_model() -> Path:
    from bot.nlu.spacy_model import ensure_blank_spacy_model

    return ensure_blank_spacy_model()


def prepare_database(seed_demo: bool = True) -> bool:
    """Create/upgrade the schema and the analysts' views; seed the demo shop into an empty database."""
    from bot.analytics.views import create_views
    from bot.schema import init_db

    create_views(init_db())
    if not seed_demo:
        return False
    from bot.crm.importer import seed_demo_if_empty

    return seed_demo_if_empty()


def latest_model() -> Optional[Path]:
    models = sorted(MODELS_DIR.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def train_if_needed(force: bool = False) -> Path:
    """Run `rasa train`; Rasa skips training when the fingerprint is unchanged."""
    command = [
        *rasa_command(), "train",
        "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
        "--out", str(MODELS_DIR),
    ]
    if force:
        command.append("--force")
    subprocess.run(command, cwd=settings.PROJECT_ROOT, env=child_environment(), check=True)
    model = latest_model()
    if model is None:
        raise RuntimeError("rasa train finished without writing a model")
    return model


def prepare_all(train: bool = True, seed_demo: bool = True) -> List[str]:
    """All set-up steps; returns the timing lines it printed."""
    log: List[str] = []
    with timed("spaCy blank pipeline", log):
        prepare_spacy_model()
    with timed("database schema and demo shop", log):
        prepare_database(seed_demo)
    if train:
        with timed("model (trained if data or config changed)", log,
                   starting="model: Rasa trains one when data/, domain.yml or config.yml changed "
                            "(a first training takes about a minute on 2 cores)…"):
            train_if_needed()
    return log

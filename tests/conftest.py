"""Fixtures shared by the whole suite: free ports, database URLs, the project root."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

try:  # Property tests (tests/security) try the same inputs on every run, so CI cannot fail on luck;
    # `HYPOTHESIS_PROFILE=explore pytest tests/security` searches new ones.
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("repeatable", derandomize=True)
    _hypothesis_settings.register_profile("explore", derandomize=False)
    _hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
except ImportError:  # hypothesis is a test dependency; without it only those modules are skipped
    pass
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_url() -> str | None:
    """PostgreSQL for tests of the production set-up, when the environment offers it."""
    return os.environ.get("HAMSAFAR_TEST_POSTGRES_URL") or None


@pytest.fixture(scope="module", autouse=True)
def no_output_channels_from_other_modules() -> Iterator[None]:
    """Each test module starts with an empty registry of proactive output channels.

    Channels register their output process-wide (bot.channels.base) when they are
    built; without this, a Telegram output left by an earlier module keeps pointing
    at that module's stopped fake server, and later modules' agent replies retry
    against it (a slow test and a test that depends on the order)."""
    from bot.channels import base

    base.clear_outputs()
    yield
    base.clear_outputs()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hamsafar-test.db'}"


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A brand-new PostgreSQL database for one test, dropped afterwards."""
    base = postgres_url()
    if not base:
        pytest.skip("HAMSAFAR_TEST_POSTGRES_URL is not set")
    import sqlalchemy as sa

    name = f"hamsafar_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        from bot.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# The longest modules first: with `--dist loadfile --no-loadscope-reorder` (pyproject.toml) the
# two workers take files in this order, so the two halves of the conversation set start at once
# instead of ending the run (xdist's default order, most tests per file first, put them last).
LONGEST_FIRST = ("test_conversation_repair.py", "test_conversation_repair_second_half.py")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    items.sort(key=lambda item: 0 if item.path.name in LONGEST_FIRST else 1)

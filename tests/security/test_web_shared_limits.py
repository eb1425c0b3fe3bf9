"""The widget's rate limits with several workers: one bucket in Redis for all of them (issue 16).

Two real Sanic servers stand for two Rasa workers behind nginx: each has its own `WebInput`,
as each worker process has. With `HAMSAFAR_REDIS_URL` set (the topology's setting) a client
that spreads its messages over both gets the configured limit once, not once per worker.
Real Redis (the machine's, keys of this test's own namespace); one test points at a port
nothing listens on, where each worker falls back to limiting on its own.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakes.channel_server import EchoAgent, ServerThread  # noqa: E402

from tests.conftest import free_port  # noqa: E402

REDIS_URL = os.environ.get("HAMSAFAR_TEST_REDIS_URL")


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The limiter's namespace comes from the database URL: this test's own file.
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'web-shared-limits.db'}")
    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
    yield
    from bot.db import dispose_engines

    dispose_engines()


def _web(**kwargs: Any) -> Any:
    from bot.channels.web import WebInput

    return WebInput(**kwargs)


def _post(server: ServerThread, session: str) -> int:
    return httpx.post(f"{server.url}/webhooks/web/messages", json={"session_id": session, "text": "سلام"},
                      timeout=15).status_code


def _needs_redis() -> str:
    if not REDIS_URL:
        pytest.skip("HAMSAFAR_TEST_REDIS_URL is not set (.ci/run sets it)")
    return REDIS_URL


def test_two_workers_share_one_address_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAMSAFAR_REDIS_URL", _needs_redis())
    first, second = _web(rate_burst=100, address_burst=6, address_per_seconds=600), \
        _web(rate_burst=100, address_burst=6, address_per_seconds=600)
    with ServerThread([first], EchoAgent()) as one, ServerThread([second], EchoAgent()) as two:
        codes = [_post(one if i % 2 else two, f"spread_session_{i:06d}") for i in range(9)]
    # Six in all, whichever worker each reached; per-worker buckets would have let all nine through.
    assert codes == [200] * 6 + [429] * 3


def test_two_workers_share_one_conversation_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAMSAFAR_REDIS_URL", _needs_redis())
    first, second = _web(rate_burst=3, rate_per_seconds=600, address_burst=100), \
        _web(rate_burst=3, rate_per_seconds=600, address_burst=100)
    with ServerThread([first], EchoAgent()) as one, ServerThread([second], EchoAgent()) as two:
        codes = [_post(one if i % 2 else two, "one_shared_session_01") for i in range(5)]
        other = _post(one, "another_shared_session")
    assert codes == [200, 200, 200, 429, 429]
    assert other == 200


def test_without_redis_each_worker_counts_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-process default, and what the topology did before: documented, not hidden."""
    monkeypatch.delenv("HAMSAFAR_REDIS_URL", raising=False)
    first, second = _web(rate_burst=100, address_burst=3, address_per_seconds=600), \
        _web(rate_burst=100, address_burst=3, address_per_seconds=600)
    with ServerThread([first], EchoAgent()) as one, ServerThread([second], EchoAgent()) as two:
        codes = [_post(one if i % 2 else two, f"local_session_{i:06d}") for i in range(8)]
    assert codes == [200] * 6 + [429] * 2


def test_an_unreachable_redis_falls_back_to_limits_per_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.channels.web._limits import SharedRateLimiter

    monkeypatch.setenv("HAMSAFAR_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")   # nothing listens there
    channel = _web(rate_burst=100, address_burst=3, address_per_seconds=600)
    assert isinstance(channel.address_limiter, SharedRateLimiter)
    with ServerThread([channel], EchoAgent()) as server:
        codes = [_post(server, f"fallback_session_{i:06d}") for i in range(5)]
    # Customers are served while Redis is away, and one worker's limit still holds.
    assert codes == [200] * 3 + [429] * 2

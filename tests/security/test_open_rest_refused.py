"""`hamsafar run` refuses to put the REST channel off loopback without a token (security finding 3)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.runtime.cli import open_rest_refusal
from tests.conftest import PROJECT_ROOT


@pytest.fixture()
def no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAMSAFAR_REST_TOKEN", raising=False)
    monkeypatch.delenv("HAMSAFAR_ALLOW_OPEN_REST", raising=False)


@pytest.mark.usefixtures("no_token")
def test_off_loopback_without_a_token_is_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    for host in ("0.0.0.0", "::", "192.168.1.20"):
        reason = open_rest_refusal(host)
        assert reason and "HAMSAFAR_REST_TOKEN" in reason and host in reason
    for host in ("127.0.0.1", "localhost", "::1"):
        assert open_rest_refusal(host) is None
    monkeypatch.setenv("HAMSAFAR_REST_TOKEN", "s3cret-token")
    assert open_rest_refusal("0.0.0.0") is None
    monkeypatch.delenv("HAMSAFAR_REST_TOKEN")
    monkeypatch.setenv("HAMSAFAR_ALLOW_OPEN_REST", "1")
    assert open_rest_refusal("0.0.0.0") is None


def test_the_command_exits_before_starting_anything() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HAMSAFAR_REST_TOKEN", "HAMSAFAR_ALLOW_OPEN_REST")}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--skip-setup", "--host", "0.0.0.0"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refusing to listen on 0.0.0.0" in done.stderr

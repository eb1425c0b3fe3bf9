"""One-time codes are never hashed without a key once real SMS goes out (security finding 7, second half)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.identity.verification import Verifier, missing_pepper_refusal
from tests.conftest import PROJECT_ROOT

SECRETS = ("HAMSAFAR_OTP_PEPPER", "HAMSAFAR_WEB_IDENTITY_SECRET", "HAMSAFAR_KAVENEGAR_API_KEY",
           "HAMSAFAR_TWILIO_ACCOUNT_SID", "HAMSAFAR_TWILIO_AUTH_TOKEN")


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_gateway_without_a_pepper_is_refused_with_the_reason(clean_env: pytest.MonkeyPatch) -> None:
    assert missing_pepper_refusal() is None                      # the demo: no gateway, nothing goes out
    clean_env.setenv("HAMSAFAR_KAVENEGAR_API_KEY", "kavenegar-key")
    reason = missing_pepper_refusal()
    assert reason and "HAMSAFAR_OTP_PEPPER" in reason
    clean_env.setenv("HAMSAFAR_OTP_PEPPER", "   ")               # blank is unset
    assert missing_pepper_refusal()
    clean_env.setenv("HAMSAFAR_OTP_PEPPER", "a-long-random-pepper")
    assert missing_pepper_refusal() is None


def test_twilio_counts_as_a_gateway_and_the_web_secret_is_a_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HAMSAFAR_TWILIO_ACCOUNT_SID", "AC123")
    assert missing_pepper_refusal() is None                      # no token: Twilio cannot send
    clean_env.setenv("HAMSAFAR_TWILIO_AUTH_TOKEN", "twilio-token")
    assert missing_pepper_refusal()
    clean_env.setenv("HAMSAFAR_WEB_IDENTITY_SECRET", "web-secret")
    assert missing_pepper_refusal() is None


def test_the_code_hash_uses_the_configured_pepper(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    clean_env.setenv("HAMSAFAR_OTP_PEPPER", "pepper-one")
    verifier = Verifier(url=f"sqlite:///{tmp_path / 'v.db'}")
    assert verifier.pepper == "pepper-one"


@pytest.mark.parametrize("command", [["bot.cli", "run", "--skip-setup"], ["bot.runtime.action_server", "--port", "1"]])
def test_the_servers_exit_before_starting(command: list) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env["HAMSAFAR_KAVENEGAR_API_KEY"] = "kavenegar-key"
    done = subprocess.run([sys.executable, "-m", *command], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "HAMSAFAR_OTP_PEPPER" in done.stderr
    assert "kavenegar-key" not in done.stdout + done.stderr

"""One typed settings object (bot.settings): defaults, parsing, clear errors, typo warnings,
`hamsafar config` with secrets masked, and docs/settings.md generated from the code."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from typing import Dict, Iterator

import pytest

from bot import settings
from bot.settings import NOT_SETTINGS_PREFIXES, SettingsError

ROOT = settings.PROJECT_ROOT


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No Hamsafar setting in the environment: what a fresh clone sees."""
    for name in list(os.environ):
        if name.startswith("HAMSAFAR_") and not name.startswith(NOT_SETTINGS_PREFIXES):
            monkeypatch.delenv(name)
    yield monkeypatch


def base_env(**variables: str) -> Dict[str, str]:
    """A subprocess environment with only `variables` as Hamsafar settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAMSAFAR_")}
    env.update(RASA_TELEMETRY_ENABLED="false", **variables)
    return env


def test_defaults_work_on_a_fresh_clone(clean_env: pytest.MonkeyPatch) -> None:
    current = settings.current()
    assert (current.port, current.actions_port, current.host) == (5005, 5055, "127.0.0.1")
    assert current.action_threads == 8 and current.crm_backend == "sql" and current.crm_timeout == 5.0
    assert current.journeys is True and current.journeys_interval == 30.0
    assert current.handoff_days_off == "fri" and current.handoff_hours == "09:00-18:00"
    assert current.allow_open_rest is False and current.rest_token is None
    assert settings.redis_url() is None and settings.rabbitmq_url() is None
    assert settings.rabbitmq_queue() == "hamsafar_touchpoints"
    assert settings.database_url() == f"sqlite:///{settings.STATE_DIR / 'hamsafar.db'}"


def test_values_are_parsed_and_re_read_when_the_environment_changes(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HAMSAFAR_ACTION_THREADS", " 12 ")
    clean_env.setenv("HAMSAFAR_JOURNEYS", "off")
    clean_env.setenv("HAMSAFAR_ALLOW_OPEN_REST", "yes")
    clean_env.setenv("HAMSAFAR_CRM_BACKEND", "WooCommerce")
    clean_env.setenv("HAMSAFAR_CRM_TIMEOUT", "2.5")
    clean_env.setenv("HAMSAFAR_REDIS_URL", "   ")          # empty counts as unset
    clean_env.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", "")       # ... except here: no day off
    first = settings.current()
    assert (first.action_threads, first.journeys, first.allow_open_rest) == (12, False, True)
    assert (first.crm_backend, first.crm_timeout) == ("woocommerce", 2.5)
    assert first.redis_url is None and first.handoff_days_off == ""
    assert settings.current() is first                       # unchanged environment: the same object
    clean_env.setenv("HAMSAFAR_ACTION_THREADS", "3")
    assert settings.current().action_threads == 3
    assert settings.value("HAMSAFAR_ACTION_THREADS") == 3
    assert settings.env_secret("HAMSAFAR_CRM_BACKEND") == "woocommerce"
    with pytest.raises(KeyError):
        settings.value("HAMSAFAR_ACTON_THREADS")             # a typo in the code fails loudly


def test_an_unusable_value_is_named_with_what_was_expected(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HAMSAFAR_ACTION_THREADS", "abc")
    with pytest.raises(SettingsError) as error:
        settings.current()
    assert str(error.value) == "HAMSAFAR_ACTION_THREADS must be an integer, got 'abc'"
    clean_env.setenv("HAMSAFAR_TELEGRAM_MODE", "pollin")
    clean_env.setenv("HAMSAFAR_HANDOFF_HOURS", "9-25")
    clean_env.setenv("HAMSAFAR_HANDOFF_TIMEZONE", "Asia/Tehrn")
    clean_env.setenv("HAMSAFAR_JOURNEYS", "perhaps")
    clean_env.setenv("HAMSAFAR_CRM_TIMEOUT", "5s")
    refusal = settings.refusal_at_start(io.StringIO())
    assert refusal is not None and refusal.startswith("[hamsafar] refusing to start: ")
    for expected in ("HAMSAFAR_ACTION_THREADS must be an integer, got 'abc'",
                     "HAMSAFAR_TELEGRAM_MODE must be one of webhook, polling, got 'pollin'",
                     "HAMSAFAR_HANDOFF_HOURS must be HH:MM-HH:MM (e.g. 09:00-18:00) or always, got '9-25'",
                     "HAMSAFAR_HANDOFF_TIMEZONE must be a time zone such as Asia/Tehran, got 'Asia/Tehrn'",
                     "HAMSAFAR_JOURNEYS must be true or false (1/0, yes/no, on/off), got 'perhaps'",
                     "HAMSAFAR_CRM_TIMEOUT must be a number, got '5s'"):
        assert expected in refusal


def test_an_unknown_variable_is_reported_with_the_closest_name(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HAMSAFAR_ACTON_THREADS", "4")
    clean_env.setenv("HAMSAFAR_SOMETHING_ELSE_ENTIRELY", "1")
    clean_env.setenv("HAMSAFAR_TEST_ANYTHING", "1")   # the test suite's and bench/'s own variables
    warnings = settings.unknown_variables()
    assert warnings == [
        "HAMSAFAR_ACTON_THREADS is not a Hamsafar setting and is ignored (did you mean HAMSAFAR_ACTION_THREADS?)",
        "HAMSAFAR_SOMETHING_ELSE_ENTIRELY is not a Hamsafar setting and is ignored "
        "(docs/settings.md lists the settings)",
    ]
    stream = io.StringIO()
    assert settings.refusal_at_start(stream) is None      # a warning, not a refusal
    assert "[hamsafar] warning: HAMSAFAR_ACTON_THREADS" in stream.getvalue()


def test_hamsafar_config_prints_the_effective_settings_with_secrets_masked() -> None:
    token, password, key = "rest-token-value-4711", "db-password-0815", "kavenegar-key-value-42"
    env = base_env(HAMSAFAR_REST_TOKEN=token, HAMSAFAR_KAVENEGAR_API_KEY=key,
                   HAMSAFAR_DATABASE_URL=f"postgresql://hamsafar:{password}@127.0.0.1:5432/hamsafar",
                   HAMSAFAR_ACTION_THREADS="12", HAMSAFAR_PORTT="5006")
    done = subprocess.run([sys.executable, "-m", "bot.cli", "config"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for secret in (token, password, key):
        assert secret not in out and secret not in done.stderr
    assert re.search(r"^HAMSAFAR_REST_TOKEN +\*\*\*\* +\(environment\)$", out, re.M)
    assert re.search(r"^HAMSAFAR_KAVENEGAR_API_KEY +\*\*\*\* +\(environment\)$", out, re.M)
    assert re.search(r"^HAMSAFAR_DATABASE_URL +postgresql://hamsafar:\*\*\*\*@127\.0\.0\.1:5432/hamsafar "
                     r"+\(environment\)$", out, re.M)
    assert re.search(r"^HAMSAFAR_ACTION_THREADS +12 +\(environment\)$", out, re.M)
    assert re.search(r"^HAMSAFAR_PORT +5005 +\(default\)$", out, re.M)
    assert re.search(r"^HAMSAFAR_OTP_PEPPER +unset +\(default\)$", out, re.M)
    assert len(re.findall(r"^HAMSAFAR_", out, re.M)) == len(settings.VARIABLES)
    assert "HAMSAFAR_PORTT is not a Hamsafar setting and is ignored (did you mean HAMSAFAR_PORT?)" in done.stderr


def test_hamsafar_config_fails_with_the_clear_message() -> None:
    done = subprocess.run([sys.executable, "-m", "bot.cli", "config"], cwd=ROOT,
                          env=base_env(HAMSAFAR_ACTION_THREADS="abc"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "[hamsafar] invalid settings: HAMSAFAR_ACTION_THREADS must be an integer, got 'abc'"
    assert done.stdout == ""


@pytest.mark.parametrize("command", [
    ["-m", "bot.cli", "run", "--skip-setup"],
    ["-m", "bot.runtime.action_server"],
    ["-m", "bot.runtime.rasa_server", "run"],
    ["-m", "bot.touchpoints.consumer"],
], ids=["hamsafar run", "action server", "rasa server", "touchpoint consumer"])
def test_the_processes_refuse_to_start_on_an_unusable_value(command: list) -> None:
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=base_env(HAMSAFAR_PORT="50O5"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "[hamsafar] refusing to start: HAMSAFAR_PORT must be an integer, got '50O5'" in done.stderr


def test_the_settings_table_in_docs_is_up_to_date() -> None:
    """Regenerate with `hamsafar config --markdown > docs/settings.md`."""
    documented = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert documented == settings.markdown_table(), "docs/settings.md is out of date: hamsafar config --markdown"
    for name in settings.VARIABLES:
        assert f"| `{name}` |" in documented
    assert "(docs/settings.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_code_reads_no_variable_the_settings_do_not_know() -> None:
    """Every `HAMSAFAR_*` name in bot/ and actions/ is a setting (or a channel's name stem), and
    only bot/settings reads the environment for them: a new variable must be added there."""
    known = set(settings.VARIABLES) | {"HAMSAFAR_TELEGRAM", "HAMSAFAR_BALE", "HAMSAFAR_BENCH"}
    strays, direct = set(), []
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("actions").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        strays |= set(re.findall(r"HAMSAFAR_[A-Z0-9_]*[A-Z0-9]\b", text)) - known
        if "settings" not in path.relative_to(ROOT).parts:
            direct += [f"{path.relative_to(ROOT)}: {line.strip()}" for line in text.splitlines()
                       if re.search(r"(environ|getenv)\b.*HAMSAFAR_", line)]
    assert not strays, f"not in bot/settings: {sorted(strays)}"
    assert not direct, direct

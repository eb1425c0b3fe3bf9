"""No secret in a log line: httpx's request lines of a WooCommerce shop in query-string
auth mode, and any value of a secret environment variable (#17 finding 13)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import pytest

from bot.crm.woocommerce import WooCommerceCRM
from bot.runtime import log_redaction
from tests.fakes.woocommerce_server import FakeWooCommerce


@pytest.fixture(autouse=True)
def httpx_logs_reach_the_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Earlier modules of the same worker (Rasa's logging set-up) may quiet or detach httpx's logger."""
    logger = logging.getLogger("httpx")
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "propagate", True)
    monkeypatch.setattr(logger, "level", logging.INFO)


@pytest.fixture
def woo() -> Iterator[FakeWooCommerce]:
    fake = FakeWooCommerce("ck_live_1234", "cs_live_5678")
    fake.add_product("MOB-SAM-A55", "گوشی سامسونگ گلکسی A55", 28_900_000, "mobile", stock=3)
    fake.start()
    yield fake
    fake.stop()


def test_httpx_request_lines_of_a_query_string_shop_keep_no_key(woo: FakeWooCommerce, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    log_redaction.install()
    crm = WooCommerceCRM(woo.url, "ck_live_1234", "cs_live_5678", local_url=f"sqlite:///{tmp_path / 'l.db'}")
    with caplog.at_level(logging.INFO, logger="httpx"):
        assert crm.get_product("MOB-SAM-A55") is not None
    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert requests, "httpx logged no request line: nothing was checked"
    assert any("consumer_key=***" in line for line in requests), requests
    assert "ck_live_1234" not in caplog.text and "cs_live_5678" not in caplog.text


def test_values_of_secret_environment_variables_are_masked_anywhere(monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HAMSAFAR_KAVENEGAR_API_KEY", "6A7B8C9D-kavenegar-key")
    monkeypatch.setenv("HAMSAFAR_OTP_PEPPER", "pepper-value-42")
    monkeypatch.setenv("HAMSAFAR_SHOP_NAME", "not-a-secret-name")
    log_redaction.install()
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info("POST https://api.kavenegar.com/v1/%s/sms/send.json", "6A7B8C9D-kavenegar-key")
        logging.getLogger("httpx").info("pepper is pepper-value-42, shop is not-a-secret-name")
    assert "6A7B8C9D-kavenegar-key" not in caplog.text and "pepper-value-42" not in caplog.text
    assert "/v1/***/sms/send.json" in caplog.text and "not-a-secret-name" in caplog.text

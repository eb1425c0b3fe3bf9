"""Choosing the CRM backend from the environment."""

from __future__ import annotations

import pytest

from bot.crm import factory
from bot.crm.base import CRMError
from bot.crm.rest import RestCRM
from bot.crm.sql import SQLCRM
from bot.crm.woocommerce import WooCommerceCRM


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    for name in ("HAMSAFAR_CRM_BACKEND", "HAMSAFAR_WOOCOMMERCE_URL", "HAMSAFAR_WOOCOMMERCE_KEY",
                 "HAMSAFAR_WOOCOMMERCE_SECRET", "HAMSAFAR_CRM_REST_URL", "HAMSAFAR_CRM_REST_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'f.db'}")
    factory.reset()
    yield
    factory.reset()


def test_default_is_sql_and_shared() -> None:
    crm = factory.get_crm()
    assert isinstance(crm, SQLCRM)
    assert factory.get_crm() is crm


def test_woocommerce_needs_its_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HAMSAFAR_CRM_BACKEND", "woocommerce")
    with pytest.raises(CRMError, match="HAMSAFAR_WOOCOMMERCE_URL"):
        factory.create_crm()
    monkeypatch.setenv("HAMSAFAR_WOOCOMMERCE_URL", "https://127.0.0.1:9")
    monkeypatch.setenv("HAMSAFAR_WOOCOMMERCE_KEY", "ck")
    monkeypatch.setenv("HAMSAFAR_WOOCOMMERCE_SECRET", "cs")
    assert isinstance(factory.create_crm(), WooCommerceCRM)


def test_rest_and_unknown(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HAMSAFAR_CRM_BACKEND", "rest")
    with pytest.raises(CRMError, match="HAMSAFAR_CRM_REST_URL"):
        factory.create_crm()
    monkeypatch.setenv("HAMSAFAR_CRM_REST_URL", "http://127.0.0.1:9")
    assert isinstance(factory.create_crm(), RestCRM)
    with pytest.raises(CRMError, match="unknown"):
        factory.create_crm("oracle")

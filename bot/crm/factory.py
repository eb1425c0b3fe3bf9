"""Choose the CRM backend from the settings (`HAMSAFAR_CRM_BACKEND`: `sql`, `woocommerce`
or `rest`, with their URLs, keys, timeout and retries; docs/settings.md lists them).

WooCommerce has no tickets, returns, feedback, referral codes, loyalty or
carts; those live in our own database (the SQL backend's tables).
"""

from __future__ import annotations

import threading
from typing import Dict, Optional

from bot import settings
from bot.crm.base import CRM, CRMError

_instances: Dict[str, CRM] = {}
_lock = threading.Lock()


def create_crm(backend: Optional[str] = None, *, database_url: Optional[str] = None) -> CRM:
    """A new backend instance as configured (or `backend` if given)."""
    configured = settings.current()
    backend = (backend or configured.crm_backend).lower()
    timeout, retries = configured.crm_timeout, configured.crm_retries
    if backend == "sql":
        from bot.crm.sql import SQLCRM

        return SQLCRM(database_url)
    if backend in ("woocommerce", "woo"):
        from bot.crm.sql import SQLCRM
        from bot.crm.woocommerce import WooCommerceCRM

        url, key, secret = configured.woocommerce_url, configured.woocommerce_key, configured.woocommerce_secret
        if not (url and key and secret):
            raise CRMError("HAMSAFAR_WOOCOMMERCE_URL, _KEY and _SECRET must be set for the woocommerce backend")
        return WooCommerceCRM(url, key, secret, local=SQLCRM(database_url), timeout=timeout, retries=retries)
    if backend == "rest":
        from bot.crm.rest import RestCRM

        url = configured.crm_rest_url
        if not url:
            raise CRMError("HAMSAFAR_CRM_REST_URL must be set for the rest backend")
        return RestCRM(url, token=configured.crm_rest_token, timeout=timeout, retries=retries)
    raise CRMError(f"unknown HAMSAFAR_CRM_BACKEND {backend!r} (use sql, woocommerce or rest)")


def get_crm(backend: Optional[str] = None, *, database_url: Optional[str] = None) -> CRM:
    """The process-wide backend (created on first use, then shared)."""
    key = f"{backend or settings.current().crm_backend}|{database_url or ''}"
    with _lock:
        if key not in _instances:
            _instances[key] = create_crm(backend, database_url=database_url)
        return _instances[key]


def reset() -> None:
    """Forget the shared instances (tests, configuration reload)."""
    with _lock:
        for crm in _instances.values():
            crm.close()
        _instances.clear()

"""Choose the CRM backend from the environment.

| variable | meaning |
|---|---|
| `HAMSAFAR_CRM_BACKEND` | `sql` (default), `woocommerce` or `rest` |
| `HAMSAFAR_CRM_TIMEOUT` | seconds per HTTP request (default 5) |
| `HAMSAFAR_CRM_RETRIES` | retries of idempotent HTTP calls (default 2) |
| `HAMSAFAR_WOOCOMMERCE_URL` | shop base URL, e.g. `https://shop.example.ir` |
| `HAMSAFAR_WOOCOMMERCE_KEY` / `HAMSAFAR_WOOCOMMERCE_SECRET` | REST API consumer key / secret |
| `HAMSAFAR_CRM_REST_URL` | base URL of a service implementing docs/crm_rest_contract.md |
| `HAMSAFAR_CRM_REST_TOKEN` | bearer token for that service |

WooCommerce has no tickets, returns, feedback, referral codes, loyalty or
carts; those live in our own database (the SQL backend's tables).
"""

from __future__ import annotations

import os
import threading
from typing import Dict, Optional

from bot.crm.base import CRM, CRMError

_instances: Dict[str, CRM] = {}
_lock = threading.Lock()


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def create_crm(backend: Optional[str] = None, *, database_url: Optional[str] = None) -> CRM:
    """A new backend instance as configured (or `backend` if given)."""
    backend = (backend or _env("HAMSAFAR_CRM_BACKEND", "sql")).lower()
    timeout = float(_env("HAMSAFAR_CRM_TIMEOUT", "5") or 5)
    retries = int(_env("HAMSAFAR_CRM_RETRIES", "2") or 2)
    if backend == "sql":
        from bot.crm.sql import SQLCRM

        return SQLCRM(database_url)
    if backend in ("woocommerce", "woo"):
        from bot.crm.sql import SQLCRM
        from bot.crm.woocommerce import WooCommerceCRM

        url, key, secret = (_env("HAMSAFAR_WOOCOMMERCE_URL"), _env("HAMSAFAR_WOOCOMMERCE_KEY"),
                            _env("HAMSAFAR_WOOCOMMERCE_SECRET"))
        if not (url and key and secret):
            raise CRMError("HAMSAFAR_WOOCOMMERCE_URL, _KEY and _SECRET must be set for the woocommerce backend")
        return WooCommerceCRM(url, key, secret, local=SQLCRM(database_url), timeout=timeout, retries=retries)
    if backend == "rest":
        from bot.crm.rest import RestCRM

        url = _env("HAMSAFAR_CRM_REST_URL")
        if not url:
            raise CRMError("HAMSAFAR_CRM_REST_URL must be set for the rest backend")
        return RestCRM(url, token=_env("HAMSAFAR_CRM_REST_TOKEN") or None, timeout=timeout, retries=retries)
    raise CRMError(f"unknown HAMSAFAR_CRM_BACKEND {backend!r} (use sql, woocommerce or rest)")


def get_crm(backend: Optional[str] = None, *, database_url: Optional[str] = None) -> CRM:
    """The process-wide backend (created on first use, then shared)."""
    key = f"{backend or _env('HAMSAFAR_CRM_BACKEND', 'sql')}|{database_url or ''}"
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

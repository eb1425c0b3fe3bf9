"""The HTTP client the REST backends share: timeouts, bounded retries, outage errors.

* Every request has an explicit timeout (connect/read/write/pool).
* Idempotent requests (GET, HEAD, PUT, DELETE) are retried a bounded number
  of times, with exponential backoff, on connection errors, timeouts, 429 and
  5xx. POST/PATCH are never retried: a lost reply must not create two orders.
* One request, retries and waits included, never takes longer than `deadline`
  (default: twice the timeout). The CRM interface is synchronous and the actions
  call it from the action server (issue 16): without a deadline a backend that
  accepts connections but never answers held a caller for three timeouts plus
  the backoff (over 15 s at the defaults).
* When the service stays down, or rejects our credentials (401/403), the
  caller gets `CRMUnavailable`; any other response is returned as is.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Mapping, Optional

import httpx

from bot.crm.base import CRMUnavailable

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class HttpClient:
    """The HTTP client of the remote CRM backends: time-outs, retries with backoff and an overall deadline,
    so a slow shop cannot hold a conversation."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, retries: int = 2, backoff: float = 0.25,
                 max_backoff: float = 4.0, auth: Optional[httpx.Auth] = None,
                 params: Optional[Mapping[str, str]] = None, headers: Optional[Mapping[str, str]] = None,
                 transport: Optional[httpx.BaseTransport] = None, name: str = "CRM",
                 deadline: Optional[float] = None) -> None:
        self.retries = max(0, int(retries))
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else 2 * timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.name = name
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout), auth=auth,
            params=dict(params or {}), headers={"Accept": "application/json", **dict(headers or {})},
            transport=transport, follow_redirects=False,
        )

    def request(self, method: str, path: str, *, params: Optional[Dict[str, Any]] = None,
                json: Any = None, headers: Optional[Dict[str, str]] = None,
                idempotent: Optional[bool] = None) -> httpx.Response:
        method = method.upper()
        retry = method in IDEMPOTENT if idempotent is None else idempotent
        attempts = 1 + (self.retries if retry else 0)
        problem = ""
        give_up_at = time.monotonic() + self.deadline
        for attempt in range(attempts):
            if attempt:
                delay = self._delay(attempt, problem)
                if time.monotonic() + delay >= give_up_at:
                    problem += f"; gave up after {self.deadline:g} s"
                    break
                time.sleep(delay)
            remaining = give_up_at - time.monotonic()
            try:
                response = self._client.request(method, path, params=params, json=json, headers=headers,
                                                timeout=httpx.Timeout(min(self.timeout, max(remaining, 0.001))))
            except httpx.TimeoutException as error:
                problem = f"timeout ({error.__class__.__name__})"
                log.warning("%s %s %s: %s (attempt %d/%d)", self.name, method, path, problem, attempt + 1, attempts)
                continue
            except httpx.TransportError as error:
                problem = f"connection error ({error.__class__.__name__})"
                log.warning("%s %s %s: %s (attempt %d/%d)", self.name, method, path, problem, attempt + 1, attempts)
                continue
            if response.status_code in (401, 403):
                raise CRMUnavailable(f"{self.name}: authentication failed (HTTP {response.status_code})")
            if response.status_code in RETRY_STATUS:
                problem = f"HTTP {response.status_code}"
                self._retry_after = response.headers.get("Retry-After")
                log.warning("%s %s %s: %s (attempt %d/%d)", self.name, method, path, problem, attempt + 1, attempts)
                continue
            return response
        raise CRMUnavailable(f"{self.name} unavailable: {method} {path}: {problem}")

    _retry_after: Optional[str] = None

    def _delay(self, attempt: int, problem: str) -> float:
        delay = self.backoff * (2 ** (attempt - 1))
        if problem == "HTTP 429" and self._retry_after and self._retry_after.isdigit():
            delay = max(delay, float(self._retry_after))
        return min(delay, self.max_backoff)

    def close(self) -> None:
        self._client.close()

"""Secrets never reach a log line.

httpx logs every request's URL at INFO; with WooCommerce in query-string auth
mode that URL carries `consumer_key` and `consumer_secret`, and Kavenegar puts
its API key in the path. `install()` puts one filter on the loggers that write
URLs and on the root handlers: it blanks secret-looking query parameters and
every value of a secret environment variable (names ending in _KEY, _SECRET,
_TOKEN, _PASSWORD, _PEPPER) wherever it appears in a message.
"""

from __future__ import annotations

import logging
import os
import re
from typing import List

MASK = "***"
_SECRET_PARAMS = re.compile(
    r"(?i)\b(consumer_key|consumer_secret|api_key|apikey|access_token|token|password|secret|signature)=[^&\s\"']+")
_SECRET_NAMES = ("_KEY", "_SECRET", "_TOKEN", "_PASSWORD", "_PEPPER")
# Loggers whose records carry URLs or request details.
URL_LOGGERS = ("httpx", "httpcore", "urllib3", "telegram", "sanic.access")


def secret_values() -> List[str]:
    """The values of secret environment variables, longest first (so no part is left)."""
    values = {value for name, value in os.environ.items()
              if name.upper().endswith(_SECRET_NAMES) and len(value.strip()) >= 6}
    return sorted(values, key=len, reverse=True)


def redact(text: str, values: List[str]) -> str:
    """`text` with secret query parameters and the secret `values` masked."""
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}={MASK}", text)
    for value in values:
        text = text.replace(value, MASK)
    return text


class SecretRedactor(logging.Filter):
    """Rewrites a record's message with `redact` (the record is never dropped). The secret
    values are read from the environment at `install()`, not on every log line."""

    values: List[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a badly formatted record is logged as it is
            return True
        cleaned = redact(message, self.values)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_REDACTOR = SecretRedactor()


def install() -> None:
    """Add the filter to the URL-writing loggers and to the root handlers (idempotent;
    a second call takes the secret values of the environment as it is then)."""
    _REDACTOR.values = secret_values()
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
    for handler in logging.getLogger().handlers:
        if _REDACTOR not in handler.filters:
            handler.addFilter(_REDACTOR)

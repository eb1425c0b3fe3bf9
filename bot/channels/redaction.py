"""Keep channel secrets (bot tokens, API keys in URLs) out of every log line.

httpx logs full request URLs (`https://api.telegram.org/bot<TOKEN>/sendMessage`,
`https://api.kavenegar.com/v1/<API-KEY>/sms/send.json`) and python-telegram-bot
logs request details at debug level. `register_secret()` adds a string that is
replaced by `***` in every log record from then on (a log-record factory, so it
covers records of every logger and every handler, added before or after), and
the chatty `httpx`/`httpcore` loggers are raised to WARNING.
"""

from __future__ import annotations

import logging
import threading
from typing import Set

_secrets: Set[str] = set()
_lock = threading.Lock()
_installed = False
_previous_factory = None
REPLACEMENT = "***"


def redact(text: str) -> str:
    for secret in _secrets:
        if secret and secret in text:
            text = text.replace(secret, REPLACEMENT)
    return text


def _factory(*args, **kwargs):  # type: ignore[no-untyped-def]
    record = _previous_factory(*args, **kwargs)
    if _secrets:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging
            return record
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record


class RedactingFilter(logging.Filter):
    """The same redaction as a handler filter (for handlers that re-format records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            record.msg, record.args = redact(message), None
        return True


def register_secret(secret: str) -> None:
    """Never log `secret` (and quiet the URL-logging HTTP client loggers)."""
    global _installed, _previous_factory
    if not secret or len(secret) < 6:
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        if not _installed:
            _previous_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_factory)
            _installed = True
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)

"""Rasa stores configured from Hamsafar's environment variables.

`endpoints.yml` names these classes so that one setting
(`HAMSAFAR_REDIS_URL`) decides the lock store, and the tracker store follows
`HAMSAFAR_DATABASE_URL` (see endpoints.yml).
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlsplit

from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore

from bot import settings


class EnvLockStore(LockStore):
    """Factory for Rasa's lock store: Redis when `HAMSAFAR_REDIS_URL` is set.

    Rasa instantiates custom lock stores as `cls(endpoint_config=...)`; this
    class returns a `RedisLockStore` (several server processes share locks)
    or an `InMemoryLockStore` (a single process) instead of itself.
    """

    def __new__(cls, endpoint_config: Optional[Any] = None) -> LockStore:  # type: ignore[misc]
        url = settings.redis_url()
        if not url:
            return InMemoryLockStore()
        parts = urlsplit(url)
        database = int(parts.path.strip("/") or 0)
        return RedisLockStore(
            host=parts.hostname or "localhost",
            port=parts.port or 6379,
            db=database,
            password=parts.password,
            use_ssl=parts.scheme == "rediss",
            key_prefix="hamsafar",
        )

"""Rasa stores configured from Hamsafar's environment variables.

`endpoints.yml` names these classes so that one setting
(`HAMSAFAR_REDIS_URL`) decides the lock store, and the tracker store follows
`HAMSAFAR_DATABASE_URL` (see endpoints.yml).

`ReliableSQLTrackerStore` stores the id of the delivery a customer message came
in (Telegram `update_id`, SMS message id: `bot.channels.base.inbound_metadata`)
in the same transaction as the turn, so a message is remembered as processed
exactly when its turn is stored, and a redelivery is recognised even when the
database failed right after the turn was stored.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional
from urllib.parse import urlsplit

import sqlalchemy as sa
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import settings
from bot.channels.base import AlreadyProcessed, inbound_of
from bot.channels.models import InboundSeen
from bot.touchpoints.tracker_store import StreamingSQLTrackerStore


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


class ReliableSQLTrackerStore(StreamingSQLTrackerStore):
    """Rasa's SQL tracker store that records each customer message's delivery id with its turn.

    endpoints.yml names it. Failures are not handled here: they propagate to
    Rasa's `FailSafeTrackerStore`, which `bot.channels.base.refuse_store_failures`
    makes raise, so the channel refuses the message and the platform retries.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        InboundSeen.__table__.create(self.engine, checkfirst=True)  # the tracker store may be a database of its own

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events Rasa is about to store, plus one `channel_inbound_seen` row per delivery among them."""
        events: List[Event] = list(super()._additional_events(session, tracker))
        for event in events:
            delivery = inbound_of(event.metadata) if isinstance(event, UserUttered) else None
            if delivery is not None:
                session.add(InboundSeen(channel=delivery[0], external_id=delivery[1]))
        return iter(events)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the turn; `AlreadyProcessed` (nothing stored) if another delivery of its message was stored."""
        try:
            await super().save(tracker)
        except sa.exc.IntegrityError as error:
            raise AlreadyProcessed("conversation turn of an inbound message already stored") from error

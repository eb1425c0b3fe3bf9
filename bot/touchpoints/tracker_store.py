"""Rasa's SQL tracker store, handing new events to the event broker without re-reading the conversation.

With an event broker configured, Rasa's `TrackerStore.stream_events` first
*retrieves* the stored tracker — every event of the session, read from the
database and replayed — only to learn how many of the tracker's events are
new. That is on the reply path of every message: about 10 ms for a
conversation of a hundred events, growing with its length, and it made
replies with touchpoint recording on 13 % slower than with it off
(bench/touchpoint_latency.py). The same number is one indexed COUNT away (the
one `SQLTrackerStore.save` itself uses), and the new events are the
tracker's events after it — exactly what Rasa's `TrackerEventDiffEngine`
returns for the retrieved tracker.

Rasa's `save` then counts the stored events a second time, in its own session, to find
the same new events again (3 % of the server's CPU at saturation): the count made for
the stream is handed to `save` on the tracker object itself (`COUNTED`, with the number
of events the tracker had), used once, and only while the tracker is unchanged. The
conversation's lock is held from the stream to the save, so nothing is stored in between.

The new events are published once the turn is stored, not before it as Rasa's `save` does. A turn whose
store failed (the database restarting: the customer gets 503 and sends the message again) was
otherwise already published, and became a touchpoint of a message the tracker never kept — a
second row for the one the customer sent again (bench/faults.py: a PostgreSQL stop counted as a
duplicated touchpoint). A worker killed between the commit and RabbitMQ's confirm (milliseconds;
with several workers the reply does not wait for it, the conversation's next publish does:
`bot.touchpoints.turn_order`) would lose the turn's touchpoint; before, one killed between the publish and the commit (the
confirm, the count and the save) wrote a touchpoint of a turn that was never stored.

endpoints.yml: `tracker_store: {type: bot.touchpoints.tracker_store.StreamingSQLTrackerStore, url: …}`.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterator, List, Optional

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

from bot import settings
from bot.touchpoints.turn_order import TurnOrder


# Attribute set on a tracker by `stream_events`: (events in the tracker, events of it stored).
COUNTED = "_hamsafar_stored_count"
# Attribute set on a tracker by `stream_events`: its new events, published by `save` once stored.
TO_PUBLISH = "_hamsafar_to_publish"


class StreamingSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose `stream_events` counts the stored events instead of loading them."""

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Find the tracker's events that are not stored yet; `save` publishes them once it stored them."""
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            # Counted once, here; the `save` that follows finds the count on the tracker.
            tracker.__dict__[COUNTED] = (len(tracker.events), self._stored_event_count(session, tracker))
            tracker.__dict__[TO_PUBLISH] = self._new_events(session, tracker)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the new events (Rasa's `save`: one transaction), then publish them to the event broker."""
        try:
            await super().save(tracker)   # calls `stream_events` first
        except BaseException:
            tracker.__dict__.pop(TO_PUBLISH, None)   # not stored: not published either
            raise
        new_events = tracker.__dict__.pop(TO_PUBLISH, None)
        if not new_events or self.event_broker is None:
            return
        collecting = getattr(self.event_broker, "collecting", None)
        if collecting is None:   # the one-process recorder: nothing to confirm
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
            return
        # RabbitMQ (bot.touchpoints.broker.ConfirmedPikaEventBroker) confirms the turn's events
        # before the conversation's next turn publishes (events it could not publish are kept and
        # sent again); only this turn's: waiting for every publish in flight made each reply wait
        # for the others'. With Redis, the next turn waits for them (turn_order), not the reply.
        order = self._turn_order()
        key = await order.take(tracker.sender_id) if order is not None else None
        with collecting() as published:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
        if key is None:
            await self.event_broker.confirmed(published)
        else:
            order.release_after(tracker.sender_id, key, published)

    def _turn_order(self) -> Optional[TurnOrder]:
        """The workers' shared publish order (`HAMSAFAR_REDIS_URL`); None for one process."""
        if "_hamsafar_turn_order" not in self.__dict__:
            url = settings.redis_url()
            self.__dict__["_hamsafar_turn_order"] = TurnOrder(url) if url else None
        return self.__dict__["_hamsafar_turn_order"]

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events `save` stores: the same ones `stream_events` publishes (its count used up here)."""
        events = self._new_events(session, tracker)
        tracker.__dict__.pop(COUNTED, None)
        return iter(events)

    def _new_events(self, session: Any, tracker: DialogueStateTracker) -> List[Event]:
        """The tracker's events after the ones already stored (Rasa's rule: a count of the stored session)."""
        counted = tracker.__dict__.get(COUNTED)
        if counted is not None and counted[0] == len(tracker.events):
            stored = counted[1]
        else:   # no stream before (no event broker), or the tracker changed since
            stored = self._stored_event_count(session, tracker)
        return list(itertools.islice(tracker.events, stored, len(tracker.events)))

    def _stored_event_count(self, session: Any, tracker: DialogueStateTracker) -> int:
        """How many of the tracker's events are stored: those of its session in the database."""
        return self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()

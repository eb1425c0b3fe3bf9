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

endpoints.yml: `tracker_store: {type: bot.touchpoints.tracker_store.StreamingSQLTrackerStore, url: …}`.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterator, List

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker


# Attribute set on a tracker by `stream_events`: (events in the tracker, events of it stored).
COUNTED = "_hamsafar_stored_count"


class StreamingSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose `stream_events` counts the stored events instead of loading them."""

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publish the tracker's events that are not stored yet (those `save` is about to store)."""
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            # Counted once, here; the `save` that follows finds the count on the tracker.
            tracker.__dict__[COUNTED] = (len(tracker.events), self._stored_event_count(session, tracker))
            new_events = self._new_events(session, tracker)
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
        flush = getattr(self.event_broker, "flush", None)
        if flush is not None:
            # RabbitMQ (bot.touchpoints.broker.ConfirmedPikaEventBroker) has confirmed the turn's
            # events before the turn is stored: a worker killed in between loses no touchpoint
            await flush()

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

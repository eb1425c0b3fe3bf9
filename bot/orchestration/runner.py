"""Running due work: scan for events, claim due entries, deliver, record — in any number of processes.

`JourneyRunner.run_due(now)` is one pass (what `hamsafar journeys run-due`
and cron do); `run_forever` repeats it every `interval` seconds (what the
Rasa server does in the background, see `bot.orchestration.channel`). The
database work runs in threads so the event loop keeps serving customers;
sends run on the loop, through the same channel outputs as replies.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import sqlalchemy as sa

from bot.orchestration import delivery
from bot.orchestration.engine import E, Decision, Orchestrator, SendPlan, utcnow
from bot.orchestration.schedule import aware
from bot.orchestration.watch import CrmWatcher

logger = logging.getLogger(__name__)


@dataclass
class RunStats:
    """What one run of the due entries did (events, sends, failures per channel), for the CLI and the logs."""

    events: Dict[str, int] = field(default_factory=dict)
    entries: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0     # outcome unknown (may have arrived): recorded, never resent
    by_channel: Dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))
    decisions: List[Decision] = field(default_factory=list)

    def summary(self) -> str:
        channels = ", ".join(f"{c} {n}" for c, n in sorted(self.by_channel.items())) or "-"
        events = ", ".join(f"{k} {n}" for k, n in sorted(self.events.items())) or "none"
        return (f"events: {events}; entries processed: {self.entries}; messages sent: {self.sent} "
                f"({channels}); failed deliveries: {self.failed}"
                + (f"; outcome unknown (not resent): {self.unknown}" if self.unknown else ""))


class JourneyRunner:
    """Processes due journey work for one orchestrator."""

    def __init__(self, orchestrator: Orchestrator, outputs: Optional[delivery.Outputs] = None,
                 conversation_log: Optional[delivery.ConversationLog] = None, *, concurrency: int = 8,
                 batch: int = 50, scan: bool = True) -> None:
        self.o = orchestrator
        self.outputs = outputs or delivery.RegisteredOutputs()
        self.log = conversation_log
        self.concurrency = concurrency
        self.batch = batch
        self.scan = scan
        self.watcher = CrmWatcher(orchestrator)

    async def run_due(self, now: Optional[dt.datetime] = None, *, dry_run: bool = False) -> RunStats:
        """Everything due at `now` (default: the current time)."""
        now = aware(now or utcnow())
        stats = RunStats()
        if dry_run:
            stats.decisions = await asyncio.to_thread(self.preview_due, now)
            return stats
        if self.scan:
            stats.events = await asyncio.to_thread(self.watcher.scan, now)
        limit = asyncio.Semaphore(self.concurrency)

        async def one(entry_id: int, token: str) -> None:
            async with limit:
                await self._process(entry_id, token, now, stats)

        while True:
            token, ids = await asyncio.to_thread(self.o.claim, now, self.batch)
            if not ids:
                return stats
            stats.entries += len(ids)
            await asyncio.gather(*(one(entry_id, token) for entry_id in ids))

    async def _process(self, entry_id: int, token: str, now: dt.datetime, stats: RunStats) -> None:
        try:
            while True:
                plan = await asyncio.to_thread(self.o.advance, entry_id, token, now)
                if plan is None:
                    return
                outcome = await self._deliver(plan)
                await asyncio.to_thread(self.o.record, plan, outcome, now)
                if outcome.status == "unknown":   # recorded, not retried: the entry goes on with its next step
                    stats.unknown += 1
                    continue
                if outcome.status != "sent":
                    stats.failed += 1
                    return
                stats.sent += 1
                stats.by_channel[outcome.target.channel] += 1
                await self._into_conversation(plan, outcome)
        except Exception:  # noqa: BLE001 - one entry failing must not stop the others; its lease expires
            logger.exception("journeys: entry %s failed", entry_id)
        finally:
            await asyncio.to_thread(self.o.release, entry_id, token)

    async def _deliver(self, plan: SendPlan) -> delivery.Outcome:
        """Each target in turn until one takes it. Each is noted on the message first (only while this
        attempt still owns it: else nothing is sent), and a send that may have arrived ends the attempt."""
        outcome = delivery.Outcome("no_channel")
        all_opted_out = True
        for target in plan.targets:
            if not await asyncio.to_thread(self.o.attempting, plan, target):
                logger.warning("journeys: %s/%s of entry %s was taken over by another runner; not sent here",
                               plan.journey, plan.step, plan.entry_id)
                return delivery.Outcome("superseded", tried=outcome.tried)
            result = await delivery.deliver([target], self.outputs, plan.text, plan.buttons, plan.idempotency_key)
            outcome.tried += result.tried
            if result.status in ("sent", "unknown"):   # no fallback after a send that may have arrived
                result.tried = outcome.tried
                return result
            all_opted_out = all_opted_out and result.status == "opted_out"
        if plan.targets:
            outcome.status = "opted_out" if all_opted_out else "failed"
        outcome.error = "; ".join(outcome.tried) or "no channel to reach the customer"
        return outcome

    async def _into_conversation(self, plan: SendPlan, outcome: delivery.Outcome) -> None:
        if self.log is None or outcome.target is None:
            return
        try:
            await self.log.append(outcome.target.conversation_id, plan.text, plan.buttons, plan.metadata)
        except Exception:  # noqa: BLE001 - delivered and recorded; only the dialogue context is missing
            logger.exception("journeys: could not write %s/%s into %s", plan.journey, plan.step,
                             outcome.target.conversation_id)

    def preview_due(self, now: dt.datetime) -> List[Decision]:
        """What a run at `now` would do to every due entry (no writes, nothing sent)."""
        with self.o.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.select(E).where(E.c.status == "active", E.c.due_at <= now)
                                                  .order_by(E.c.due_at, E.c.id)).mappings()]
        return [self.o.plan(row, now) for row in rows]

    async def run_forever(self, interval: float = 30.0, clock: Callable[[], dt.datetime] = utcnow,
                          stop: Optional[asyncio.Event] = None) -> None:
        """`run_due` every `interval` seconds until `stop` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                stats = await self.run_due(clock())
                if stats.sent or stats.failed or stats.unknown:
                    logger.info("journeys: %s", stats.summary())
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be down for a moment: keep going
                logger.exception("journeys: a run failed; retrying in %ss", interval)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass

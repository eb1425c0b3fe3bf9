"""Delivering a proactive message: which channel, consent, the send, the conversation.

Channel choice, in the order of the journey's `channels` (default `last,
telegram, bale, web, sms`): `last` is the conversation the customer last wrote in
(if it can be written to now); `telegram` / `bale` a Telegram or Bale chat linked
to the customer (bot.identity's verified conversations); `web` a website session of
theirs that is online (they wrote within `web_online_minutes`); `sms` their
phone number from the CRM. Each target passes the one consent check
(`bot.channels.consent`); if a send fails the next target is tried.

Sending uses the channels' own outputs (`bot.channels.base` registry: the Rasa
server registers them; the CLI builds them from the same environment).
SMS go through `SmsOutput.send_sms` with the message's idempotency key, so a
retry after a crash never sends twice. Without an SMS gateway, and with
`HAMSAFAR_DEMO_CODES=log` (scripts/run.sh), the SMS is printed in the terminal
like the demo's one-time codes.

After a send the message is written into the customer's conversation (the
Rasa tracker) as a bot utterance whose metadata names the journey, step,
order and expected answer, so the dialogue can continue from it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Protocol, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot import settings
from bot.channels import addresses, consent

logger = logging.getLogger(__name__)

PUSHABLE = ("telegram", "bale", "web", "sms")


@dataclass(frozen=True)
class Target:
    """Where one proactive message goes: a channel and the conversation on it."""

    channel: str            # telegram | bale | web | sms
    conversation_id: str    # tg:<chat> | bale:<chat> | web:<session> | sms:<E.164> (never a sms:ref-… reference)


@dataclass
class Outcome:
    """What became of one proactive send (sent, unknown: may have arrived, opted out, no channel, failed)
    and the channels tried."""

    status: str                              # sent | unknown | opted_out | no_channel | failed (| superseded: runner)
    target: Optional[Target] = None
    error: Optional[str] = None
    tried: List[str] = field(default_factory=list)


# --------------------------------------------------------------------------- where to send
def customer_targets(conn: Connection, customer_id: Optional[str], phone: Optional[str], order: Sequence[str],
                     now: dt.datetime, web_online_minutes: int) -> List[Target]:
    """The customer's reachable conversations in the preferred order (no duplicates)."""
    from bot.channels.models import WebMessage
    from bot.identity.models import VerifiedIdentity
    from bot.touchpoints.privacy import conversation_ref, is_conversation_ref
    from bot.touchpoints.queries import latest_customer_conversation

    conversations: List[str] = []
    if customer_id:
        vi = VerifiedIdentity.__table__
        conversations = list(conn.execute(
            sa.select(vi.c.external_id).where(vi.c.customer_id == customer_id, vi.c.channel == "conversation")
            .order_by(vi.c.verified_at.desc())).scalars())
    online_since = (now - dt.timedelta(minutes=web_online_minutes)).replace(tzinfo=None)
    web_sessions = [addresses.address_of(c) for c in conversations if addresses.channel_of(c) == "web"]
    online: set = set()
    if web_sessions:
        wm = WebMessage.__table__
        online = {addresses.conversation_id("web", s) for s in conn.execute(
            sa.select(wm.c.session_id).where(wm.c.session_id.in_(web_sessions), wm.c.sender == "customer",
                                             wm.c.created_at >= online_since).distinct()).scalars()}

    def reachable(conversation: str) -> Optional[Target]:
        channel = addresses.channel_of(conversation)
        if channel in addresses.CHAT_CHANNELS:   # telegram, bale
            return Target(channel, conversation)
        if channel == "web" and conversation in online:
            return Target("web", conversation)
        if channel == "web" and is_conversation_ref(conversation):
            # the widget's conversation is named by its reference too (web:ref-…): the verified
            # web conversation of the customer it stands for, when the customer is online there
            return next((Target("web", known) for known in online if conversation_ref(known) == conversation), None)
        if channel == "sms" and not is_conversation_ref(conversation):
            return Target("sms", conversation)
        if channel == "sms":
            # Touchpoints name an SMS conversation by its pseudonymous reference (sms:ref-…),
            # which is no address: text the number it stands for — the CRM's phone or a
            # verified SMS conversation of the customer — and never the reference itself.
            own = [c for c in conversations if addresses.channel_of(c) == "sms"]
            for known in ([addresses.conversation_id("sms", phone)] if phone else []) + own:
                if not is_conversation_ref(known) and conversation_ref(known) == conversation:
                    return Target("sms", known)
            return None
        return None

    targets: List[Target] = []
    for choice in order:
        if choice == "last" and customer_id:
            last = latest_customer_conversation(conn, customer_id)
            target = reachable(last) if last else None
            targets += [target] if target else []
        elif choice in addresses.CHAT_CHANNELS:   # a Telegram or Bale chat verified as the customer's
            targets += [Target(choice, c) for c in conversations if addresses.channel_of(c) == choice]
        elif choice == "web":
            targets += [Target("web", c) for c in conversations if c in online]
        elif choice == "sms":
            if phone:
                targets.append(Target("sms", addresses.conversation_id("sms", phone)))
            targets += [Target("sms", c) for c in conversations
                        if addresses.channel_of(c) == "sms" and not is_conversation_ref(c)]
    seen: set = set()
    unique = []
    for target in targets:
        if target.conversation_id not in seen:
            seen.add(target.conversation_id)
            unique.append(target)
    return unique


# --------------------------------------------------------------------------- outputs
class Outputs(Protocol):
    """Anything that gives the output channel for a channel name (the Rasa server's registry, or a test's
    fakes)."""

    def get(self, channel: str) -> Any: ...


class RegisteredOutputs:
    """The outputs the Rasa server's channels registered (bot.channels.base)."""

    def get(self, channel: str) -> Any:
        from bot.channels.base import get_output

        return get_output(channel)


class EnvironmentOutputs:
    """Outputs built from the channels' environment variables (the CLI, cron, the benchmark)."""

    def __init__(self) -> None:
        self._outputs: Dict[str, Any] = {}
        self._built = False

    def _build(self) -> None:
        self._built = True
        from bot.channels.web import WebOutput

        self._outputs["web"] = WebOutput()
        try:
            from bot.channels.sms import SmsInput

            output = SmsInput.from_credentials({}).output
            if output is not None:
                self._outputs["sms"] = output
        except Exception:  # noqa: BLE001 - a misconfigured gateway: SMS unavailable, others still work
            logger.exception("journeys: SMS output could not be built")
        if settings.current().telegram_token:
            from bot.channels.telegram import HamsafarTelegramInput

            output = HamsafarTelegramInput.from_credentials({}).output
            if output is not None:
                self._outputs["telegram"] = output
        if settings.current().bale_token:
            from bot.channels.bale import HamsafarBaleInput

            output = HamsafarBaleInput.from_credentials({}).output
            if output is not None:
                self._outputs["bale"] = output

    def get(self, channel: str) -> Any:
        if not self._built:
            self._build()
        return self._outputs.get(channel)

    async def aclose(self) -> None:
        for chat in ("telegram", "bale"):
            output = self._outputs.get(chat)
            if output is not None:
                await output.close()
        sms = self._outputs.get("sms")
        if sms is not None:
            await sms.gateway.aclose()


def demo_sms_enabled() -> bool:
    return settings.current().demo_codes == "log"


def print_demo_sms(phone: str, text: str) -> None:
    """Demo only (`scripts/run.sh`): no SMS gateway, so the proactive SMS is shown in the terminal."""
    # one write, its newline included: sends from several threads must not run into each other's lines
    sys.stdout.write(f"[hamsafar demo] SMS to {phone}: {text}\n")
    sys.stdout.flush()


def _address(target: Target) -> str:
    return addresses.address_of(target.conversation_id)


def consent_allows(target: Target) -> bool:
    return not consent.is_opted_out(target.channel, _address(target))


class MayHaveArrived(Exception):
    """The channel cannot tell whether the message reached the customer (at most once: not resent)."""


def may_have_arrived(error: Exception) -> bool:
    """A send that may have been delivered: an SMS the gateway cannot account for, or a Bot API
    timeout / lost connection after the request was written (`bot.channels.botapi.may_have_arrived`).
    A request never written (connection refused, connect or pool timeout) did not: it falls back."""
    if isinstance(error, MayHaveArrived):
        return True
    from bot.channels.botapi import may_have_arrived as bot_api_may_have_arrived

    return bot_api_may_have_arrived(error)


async def send_to(target: Target, outputs: Outputs, text: str, buttons: List[Dict[str, str]],
                  idempotency_key: str) -> Optional[str]:
    """Send on one target; None on success, else why not (`opted_out`, `no_output`, an error)."""
    if not consent.check_outbound(target.channel, _address(target), proactive=True, kind="journey"):
        return "opted_out"
    output = outputs.get(target.channel)
    if target.channel == "sms":
        if output is None:
            if demo_sms_enabled():
                await asyncio.get_running_loop().run_in_executor(None, print_demo_sms, _address(target), text)
                return None
            return "no_output"
        result = await output.send_sms(_address(target), text, idempotency_key=idempotency_key, kind="journey",
                                       proactive=True, raise_on_failure=False, resend_unconfirmed=False)
        if result.status == "sent":
            return None
        if result.status == "unknown":
            raise MayHaveArrived(f"sms unknown: {result.error or ''}".strip())
        return "opted_out" if result.status == "blocked" else f"sms {result.status}: {result.error or ''}".strip()
    if output is None:
        return "no_output"
    if target.channel == "web":
        # the widget shows text only: links are in the text, url buttons are dropped
        buttons = [b for b in buttons if b.get("payload")]
    sent = await output.send_text(target.conversation_id, text, buttons, proactive=True, kind="journey")
    if not sent:
        return "opted_out"
    if target.channel in addresses.CHAT_CHANNELS and \
            consent.opt_out_source(target.channel, _address(target)) == "blocked":
        return "blocked the bot"
    return None


async def deliver(targets: Iterable[Target], outputs: Outputs, text: str, buttons: List[Dict[str, str]],
                  idempotency_key: str) -> Outcome:
    """Try each target in order until one takes the message."""
    outcome = Outcome("no_channel")
    opted_out = 0
    count = 0
    for target in targets:
        count += 1
        if not consent_allows(target):
            opted_out += 1
            outcome.tried.append(f"{target.channel}: opted out")
            continue
        try:
            problem = await send_to(target, outputs, text, buttons, idempotency_key)
        except Exception as error:  # noqa: BLE001 - a channel failing is a reason to fall back
            if may_have_arrived(error):   # no fallback: the customer may already have it
                logger.warning("journeys: %s outcome unknown (%s); not sent again", target.channel, error)
                outcome.tried.append(f"{target.channel}: {error}")
                outcome.status, outcome.target = "unknown", target
                outcome.error = "; ".join(outcome.tried)
                return outcome
            logger.warning("journeys: %s failed (%s); trying the next channel", target.channel, error)
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            outcome.status, outcome.target = "sent", target
            return outcome
        if problem == "opted_out":
            opted_out += 1
        outcome.tried.append(f"{target.channel}: {problem}")
    if count and opted_out == count:
        outcome.status = "opted_out"
    elif count:
        outcome.status = "failed"
    outcome.error = "; ".join(outcome.tried) or "no channel to reach the customer"
    return outcome


# --------------------------------------------------------------------------- the conversation
class ConversationLog(Protocol):
    """Where a sent proactive message is written into the conversation, so the bot knows what it said."""

    async def append(self, conversation_id: str, text: str, buttons: List[Dict[str, str]],
                     metadata: Dict[str, Any]) -> None: ...


def _journey_events(tracker: Any, domain: Any, text: str, buttons: List[Dict[str, str]],
                    metadata: Dict[str, Any]) -> List[Any]:
    """A new session if the conversation has none open, then the bot message.

    Rasa starts a new session when the customer writes more than the session
    expiry after their last message — which would put this message before the
    session start and out of the dialogue's sight. Opening the session here
    (with Rasa's own `action_session_start` events: carried-over slots) keeps
    the message in the session the customer's answer continues.
    """
    import time

    from rasa.shared.core.constants import ACTION_SESSION_START_NAME
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered

    events: List[Any] = []
    last_user = tracker.get_last_event_for(UserUttered)
    config = domain.session_config
    expired = last_user is not None and config.are_sessions_enabled() and \
        (time.time() - last_user.timestamp) / 60 > config.session_expiration_time
    never_started = not any(isinstance(event, SessionStarted) for event in tracker.events)
    if never_started or expired:
        events.append(ActionExecuted(ACTION_SESSION_START_NAME))
        events += _session_start_events(tracker, domain)
    data = {"buttons": buttons} if buttons else {}
    events.append(BotUttered(text, data=data, metadata=metadata))
    return events


def _session_start_events(tracker: Any, domain: Any) -> List[Any]:
    """The events of Rasa's `action_session_start`: SessionStarted, carried-over slots, listen."""
    from rasa.core.actions.action import ActionSessionStart
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    events: List[Any] = [SessionStarted()]
    if domain.session_config.carry_over_slots:
        events += ActionSessionStart._slot_set_events_from_tracker(tracker)
    events.append(ActionExecuted(ACTION_LISTEN_NAME))
    return events


class AgentConversationLog:
    """Inside the Rasa server: the agent's tracker store, under its lock store."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent

    async def append(self, conversation_id: str, text: str, buttons: List[Dict[str, str]],
                     metadata: Dict[str, Any]) -> None:
        agent = self.agent
        async with agent.lock_store.lock(conversation_id):
            tracker = await agent.tracker_store.get_or_create_tracker(conversation_id)
            for event in _journey_events(tracker, agent.domain, text, buttons, metadata):
                tracker.update(event)
            await agent.tracker_store.save(tracker)


class StoreConversationLog:
    """Outside the server (CLI, cron): the same SQL tracker store and lock store endpoints.yml names."""

    def __init__(self, database_url: Optional[str] = None) -> None:
        self.database_url = database_url
        self._store: Any = None
        self._locks: Any = None
        self._domain: Any = None

    def _open(self) -> None:
        from rasa.shared.core.domain import Domain

        from bot import settings
        from bot.stores import EnvLockStore
        from bot.touchpoints.tracker_store import StreamingSQLTrackerStore

        self._domain = Domain.load(str(settings.PROJECT_ROOT / "domain.yml"))
        self._store = StreamingSQLTrackerStore(domain=self._domain, host=self.database_url or settings.database_url())
        self._locks = EnvLockStore()

    async def append(self, conversation_id: str, text: str, buttons: List[Dict[str, str]],
                     metadata: Dict[str, Any]) -> None:
        if self._store is None:
            self._open()
        async with self._locks.lock(conversation_id):
            tracker = await self._store.get_or_create_tracker(conversation_id)
            for event in _journey_events(tracker, self._domain, text, buttons, metadata):
                tracker.update(event)
            await self._store.save(tracker)

"""The tiny base every output path shares: send without an incoming message.

`ProactiveOutput` is a Rasa `OutputChannel` whose `send_text(recipient_id,
text, buttons=None, proactive=True)` works with no incoming message — for
reminders, surveys and agent replies — and which checks consent
(`bot.channels.consent`) before every send, replies included.

Conversation ids carry the channel (`tg:<chat>`, `bale:<chat>`, `web:<key>`,
`sms:<E.164 phone>`, `rest:<sender>`); `bot.channels.addresses` reads and writes
them and docs/channels.md documents the rule.

Input channels register their output when Rasa builds them from
credentials.yml, so `await send_proactive("tg:123", "...")` (or
`get_output("sms")`) works from anywhere in the Rasa server process.

Never lost, never twice (issue 17 finding 11): an inbound message is either
processed with its conversation's state or refused so the platform delivers it
again. `process_once` runs one delivery after the earlier ones of its
conversation, skips it if an earlier delivery was processed, and remembers its
id only once it has been processed; `ReplyBuffer` holds the replies until the
turn is stored; `refuse_store_failures` makes Rasa raise instead of carrying on
with an empty tracker when the tracker store fails; `retryable` tells a refusal
worth a redelivery (503) from a bug (500).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple

import sqlalchemy as sa
from rasa.core.channels.channel import OutputChannel

from bot import schema
from bot.channels import addresses, consent
from bot.channels.models import InboundSeen

logger = logging.getLogger(__name__)

# Rasa input channel name -> the `channel` value analytics (touchpoints) use.
CHANNEL_LABELS = {"hamsafar_telegram": "telegram", "hamsafar_bale": "bale", "web": "web", "sms": "sms"}

_outputs: Dict[str, "ProactiveOutput"] = {}


def channel_label(input_channel: Optional[str]) -> Optional[str]:
    """`telegram`/`bale`/`web`/`sms` for our Rasa input channel names; others unchanged."""
    if input_channel is None:
        return None
    return CHANNEL_LABELS.get(input_channel, input_channel)


class ProactiveOutput(OutputChannel):
    """Base of our output channels: consent-checked sends, with or without an incoming message."""

    channel = "base"  # consent / analytics label: telegram | bale | web | sms

    def __init__(self, *, proactive: bool = True) -> None:
        # An output created for replies to an incoming message passes proactive=False.
        self.proactive = proactive

    async def send_text(
        self,
        recipient_id: str,
        text: str,
        buttons: Optional[List[Dict[str, Any]]] = None,
        *,
        proactive: bool = True,
        kind: str = "message",
    ) -> bool:
        """Send `text` (and buttons) to `recipient_id`; False if consent forbids it."""
        if not consent.check_outbound(self.channel, recipient_id, proactive=proactive, kind=kind):
            return False
        await self._deliver(recipient_id, text, buttons or [], kind=kind)
        return True

    async def _deliver(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], *, kind: str) -> None:
        raise NotImplementedError

    def written_by(self, sender: str) -> "ProactiveOutput":
        """This output for messages written by `sender` ("bot", "agent", "system"). Channels that
        show who wrote a message (the web widget) return one that says so; the others are the same."""
        return self

    # Rasa's entry points (replies): all go through send_text, hence consent. A response whose
    # `metadata` says `consent: opt_out_confirmation` (domain.yml) is the confirmation of the
    # opt-out just recorded, which consent lets through once even where the opt-out stops replies.
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_text(recipient_id, text, None, proactive=self.proactive, kind=reply_kind(kwargs))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text(recipient_id, text, buttons, proactive=self.proactive, kind=reply_kind(kwargs))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text(recipient_id, image, None, proactive=self.proactive)


def reply_kind(message: Dict[str, Any]) -> str:
    """`opt_out_confirmation` for a response marked so in its metadata, else `message`."""
    metadata = message.get("metadata")
    if isinstance(metadata, dict) and metadata.get("consent") == "opt_out_confirmation":
        return "opt_out_confirmation"
    return "message"


def register_output(output: "ProactiveOutput") -> None:
    _outputs[output.channel] = output


def clear_outputs() -> None:
    """Forget every registered output (a process that builds its channels anew, e.g. a test module)."""
    _outputs.clear()


def get_output(channel: str) -> Optional["ProactiveOutput"]:
    """The configured output of `channel` (`telegram`, `bale`, `web`, `sms`) in this process."""
    return _outputs.get(channel)


async def send_proactive(
    conversation_id: str, text: str, buttons: Optional[List[Dict[str, Any]]] = None, *, proactive: bool = True,
    sender: str = "bot",
) -> bool:
    """Send to a conversation on its own channel (from its id prefix), as written by `sender`
    (the bot, an agent, a system notice); False if not sent."""
    channel = addresses.channel_of(conversation_id)
    output = get_output(channel) if channel else None
    if output is None:
        logger.warning("no output channel configured for conversation %s", conversation_id)
        return False
    return await output.written_by(sender).send_text(conversation_id, text, buttons, proactive=proactive)


def guard_customer_text(text: str) -> str:
    """Customer text that cannot trigger Rasa's `/intent{...}` shortcut.

    Rasa treats a message starting with `/` as an intent with entities, which
    would let a customer set entities (and slots) directly. Our channels pass
    button payloads they issued themselves unchanged, but typed text starting
    with `/` gets a leading zero-width space, which the NLU normaliser removes.
    """
    stripped = (text or "").strip()
    if stripped.startswith("/"):
        return "\u200b" + stripped
    return stripped


async def offered_payload(request: Any, conversation_id: str, text: str, lookback: int = 10) -> bool:
    """True if `text` is the payload of a button the bot showed in this conversation's latest messages.

    Only such a payload may reach Rasa as an `/intent{entities}` command; anything
    else a client sends is customer text (`guard_customer_text`). `request` is the
    Sanic request, whose app holds Rasa's agent and so the tracker store.
    """
    if not text.strip().startswith("/"):
        return False
    agent = getattr(request.app.ctx, "agent", None)
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return False
    try:
        tracker = await store.retrieve(conversation_id)
    except Exception:  # noqa: BLE001 - no tracker: treat as typed text
        return False
    if tracker is None:
        return False
    from rasa.shared.core.events import BotUttered

    seen = 0
    for event in reversed(tracker.events):
        if isinstance(event, BotUttered):
            seen += 1
            for button in (event.data or {}).get("buttons") or []:
                if str(button.get("payload") or "") == text.strip():
                    return True
            if seen >= lookback:
                break
    return False


_identity_lock = threading.Lock()


async def run_identity_check(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a `bot.identity` check (a CRM lookup, maybe over HTTP) off the event loop.

    One at a time per process: the identity module builds its verifier and
    schema lazily on first use, which must not happen in two threads at once.
    """

    def locked() -> Any:
        with _identity_lock:
            return fn(*args)

    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(locked))


class ArrivalOrder:
    """One conversation's incoming messages handled one at a time, in arrival order.

    Inbound webhooks are answered at once and handled in background tasks; without
    this, a message that waits on the network (a button press being acknowledged,
    an identity lookup) could reach the bot after the customer's next message.
    `asyncio.Lock` wakes waiters first come, first served; tasks start in the order
    they were created, so `async with order.hold(key)` keeps arrival order per key.
    """

    def __init__(self) -> None:
        self._locks: Dict[Any, List[Any]] = {}  # key -> [lock, tasks using it]

    @contextlib.asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0 and self._locks.get(key) is entry:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


# -- never lost, never twice ---------------------------------------------------------

INBOUND_KEY = "hamsafar_inbound"  # UserMessage metadata: {"channel": ..., "id": ...} of the delivery
DUPLICATE = "duplicate"


class MessageRefused(Exception):
    """The message was not processed and nothing of it was stored: answer so the platform delivers it again."""


class ConversationStoreError(MessageRefused):
    """The tracker store could not read or save the conversation (instead of Rasa's empty in-memory tracker)."""


class AlreadyProcessed(Exception):
    """The tracker store already holds this inbound message: a redelivery raced the first delivery."""


def inbound_metadata(channel: str, external_id: Optional[str]) -> Dict[str, Any]:
    """Metadata naming the delivery, so the tracker store records it with the turn (`bot.stores`)."""
    if not external_id:
        return {}
    return {INBOUND_KEY: {"channel": channel, "id": str(external_id)[:100]}}


def inbound_of(metadata: Optional[Dict[str, Any]]) -> Optional[Tuple[str, str]]:
    """(channel, id) of the delivery a message's metadata names, else None."""
    entry = (metadata or {}).get(INBOUND_KEY)
    if isinstance(entry, dict) and entry.get("channel") and entry.get("id"):
        return str(entry["channel"]), str(entry["id"])[:100]
    return None


def _refuse(error: Exception) -> None:
    """`FailSafeTrackerStore`'s error callback: raise, so Rasa neither reads nor saves an empty tracker."""
    if isinstance(error, (MessageRefused, AlreadyProcessed)):
        raise error
    raise ConversationStoreError(f"the conversation store failed ({type(error).__name__})") from error


def refuse_store_failures(app: Any) -> None:
    """Make the Rasa agent of a Sanic `app` raise when its tracker store fails.

    Rasa wraps every tracker store in `FailSafeTrackerStore`, which logs a failed
    read and returns None — Rasa then starts a new, empty conversation (no
    `customer_id`, no `handoff_active`) — and saves into an in-memory store after a
    failed save. Its documented `on_tracker_store_error` callback is ours instead:
    it raises, the message is refused and the platform delivers it again.
    Idempotent; call it before handing a message to Rasa.
    """
    from rasa.core.tracker_store import FailSafeTrackerStore

    agent = getattr(getattr(app, "ctx", None), "agent", None)
    store = getattr(agent, "tracker_store", None)
    if isinstance(store, FailSafeTrackerStore) and store._on_tracker_store_error is not _refuse:
        store._on_tracker_store_error = _refuse


def retryable(error: BaseException) -> bool:
    """True for failures a redelivery may get past: the conversation store, our database, Rasa's lock store
    (its Redis restarting: redis-py's connection errors reach us as they are)."""
    from rasa.core.lock_store import LockError
    from rasa.shared.exceptions import ConnectionException
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

    return isinstance(error, (MessageRefused, LockError, ConnectionException, asyncio.TimeoutError,
                              sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError,
                              sa.exc.TimeoutError, RedisConnectionError, RedisTimeoutError))


def refusal_status(error: BaseException) -> int:
    """503 for a failure worth retrying soon, 500 for anything else; both make the platform redeliver."""
    return 503 if retryable(error) else 500


def inbound_processed(channel: str, external_id: str) -> bool:
    """True if a delivery of this inbound message was processed (raises if the database cannot tell)."""
    with schema.session() as session:
        return session.get(InboundSeen, (channel, str(external_id)[:100])) is not None


def mark_inbound_seen(channel: str, external_id: str) -> bool:
    """Record an inbound id; False if it was already recorded (a duplicate delivery)."""
    try:
        with schema.session() as session:
            session.add(InboundSeen(channel=channel, external_id=str(external_id)[:100]))
        return True
    except sa.exc.IntegrityError:
        return False


async def process_once(order: ArrivalOrder, key: Any, channel: str, external_id: Optional[str],
                       work: Callable[[], Awaitable[Any]]) -> Any:
    """Run `work` for one delivery, after the earlier ones of conversation `key`, unless it was processed.

    Returns `DUPLICATE` or what `work` returned. Raises what `work` raised: then
    nothing marks the delivery processed and the platform's redelivery runs it.
    The id is remembered by the tracker store in the transaction that stores the
    turn (`bot.stores`), and here after `work` for handlers that store no turn.
    """
    async with order.hold(key):
        if external_id and inbound_processed(channel, external_id):
            return DUPLICATE
        try:
            result = await work()
        except AlreadyProcessed:
            return DUPLICATE
        if external_id:
            mark_inbound_seen(channel, external_id)
        return result


def _held(name: str) -> Callable[..., Awaitable[None]]:
    async def hold(self: "ReplyBuffer", *args: Any, **kwargs: Any) -> None:
        self.pending.append((name, args, kwargs))

    hold.__name__ = name
    return hold


class ReplyBuffer(OutputChannel):
    """Holds a turn's replies until Rasa has stored the turn, then sends them through `output`.

    Rasa sends replies while it predicts and stores the turn only at the end; if
    the store fails the message is refused and delivered again, and without this
    the customer would get the replies of the refused attempt as well.
    """

    def __init__(self, output: OutputChannel) -> None:
        self.output = output
        self.pending: List[Tuple[str, Tuple[Any, ...], Dict[str, Any]]] = []

    def name(self) -> str:  # type: ignore[override]
        return self.output.name()

    send_response = _held("send_response")
    send_text_message = _held("send_text_message")
    send_text_with_buttons = _held("send_text_with_buttons")
    send_image_url = _held("send_image_url")
    send_attachment = _held("send_attachment")
    send_quick_replies = _held("send_quick_replies")
    send_elements = _held("send_elements")
    send_custom_json = _held("send_custom_json")

    async def flush(self) -> None:
        """Send the held replies in order. A failure is logged, not raised: the turn is stored."""
        pending, self.pending = self.pending, []
        for name, args, kwargs in pending:
            try:
                await getattr(self.output, name)(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - each output retries itself; a redelivery would be a duplicate
                logger.error("a reply could not be delivered (%s)", type(error).__name__)


async def forward_then_reply(on_new_message: Callable[[Any], Awaitable[Any]], message: Any) -> None:
    """Hand `message` to Rasa with its replies held, and send them once the turn is stored."""
    buffer = ReplyBuffer(message.output_channel)
    message.output_channel = buffer
    await on_new_message(message)
    await buffer.flush()

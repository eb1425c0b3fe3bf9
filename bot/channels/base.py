"""The tiny base every output path shares: send without an incoming message.

`ProactiveOutput` is a Rasa `OutputChannel` whose `send_text(recipient_id,
text, buttons=None, proactive=True)` works with no incoming message — for
reminders, surveys and agent replies — and which checks consent
(`bot.channels.consent`) before every send, replies included.

Conversation ids carry the channel (the rule is documented in docs/channels.md):

* Telegram: `tg:<chat_id>` in a private chat, `tg:<chat_id>:<user_id>` in a group;
* Bale: `bale:<chat_id>` in a private chat, `bale:<chat_id>:<user_id>` in a group;
* website widget: `web:<session_id>`;
* SMS: `sms:<E.164 phone>`.

Input channels register their output when Rasa builds them from
credentials.yml, so `await send_proactive("tg:123", "...")` (or
`get_output("sms")`) works from anywhere in the Rasa server process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from typing import Any, AsyncIterator, Callable, Dict, List, Optional

from rasa.core.channels.channel import OutputChannel

from bot.channels import consent

logger = logging.getLogger(__name__)

# Rasa input channel name -> the `channel` value analytics (touchpoints) use.
CHANNEL_LABELS = {"hamsafar_telegram": "telegram", "hamsafar_bale": "bale", "web": "web", "sms": "sms"}
PREFIXES = {"tg": "telegram", "bale": "bale", "web": "web", "sms": "sms"}

_outputs: Dict[str, "ProactiveOutput"] = {}


def channel_label(input_channel: Optional[str]) -> Optional[str]:
    """`telegram`/`bale`/`web`/`sms` for our Rasa input channel names; others unchanged."""
    if input_channel is None:
        return None
    return CHANNEL_LABELS.get(input_channel, input_channel)


def channel_of_conversation(conversation_id: str) -> Optional[str]:
    """`telegram`, `bale`, `web` or `sms` from a conversation id's prefix, else None."""
    prefix = str(conversation_id).split(":", 1)[0]
    return PREFIXES.get(prefix)


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

    # Rasa's entry points (replies): all go through send_text, hence consent.
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_text(recipient_id, text, None, proactive=self.proactive)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text(recipient_id, text, buttons, proactive=self.proactive)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text(recipient_id, image, None, proactive=self.proactive)


def register_output(output: "ProactiveOutput") -> None:
    _outputs[output.channel] = output


def clear_outputs() -> None:
    """Forget every registered output (a process that builds its channels anew, e.g. a test module)."""
    _outputs.clear()


def get_output(channel: str) -> Optional["ProactiveOutput"]:
    """The configured output of `channel` (`telegram`, `bale`, `web`, `sms`) in this process."""
    return _outputs.get(channel)


async def send_proactive(
    conversation_id: str, text: str, buttons: Optional[List[Dict[str, Any]]] = None, *, proactive: bool = True
) -> bool:
    """Send to a conversation on its own channel (from its id prefix); False if not sent."""
    channel = channel_of_conversation(conversation_id)
    output = get_output(channel) if channel else None
    if output is None:
        logger.warning("no output channel configured for conversation %s", conversation_id)
        return False
    return await output.send_text(conversation_id, text, buttons, proactive=proactive)


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

"""What differs between the Bot-API messengers Hamsafar speaks: Telegram and Bale.

Bale (بله) runs a bot platform whose HTTP API follows Telegram's Bot API, so one
channel (`bot.channels.botapi`) serves both; a `Platform` holds everything that
is not shared: names, environment variables, API address,
how the webhook is authenticated, what the API documents. docs/channels.md says
which of Bale's values come from Bale's documentation and which are assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from bot.channels import addresses


@dataclass(frozen=True)
class Platform:
    """One Bot-API messenger: its names, addresses and documented differences, as data, so
    the channel's code is the same for Telegram and Bale."""

    name: str                      # label for consent, touchpoints, metadata: "telegram" | "bale"
    rasa_name: str                 # Rasa input channel name and route prefix under /webhooks/
    title: str                     # for log lines
    env: str                       # environment variable stem: f"{env}_TOKEN", f"{env}_MODE", ...
    base_url: str                  # Bot API base; the token is appended by python-telegram-bot
    base_file_url: str
    max_message_length: int = 4096  # per message; we count UTF-16 units, never fewer than characters
    secret_header: Optional[str] = None  # the webhook's secret header, if the platform sends one
    allowed_updates: Optional[Tuple[str, ...]] = None  # None: the parameter is not documented, not sent
    poll_pause: float = 0.0        # pause after an empty getUpdates answer (when long polling is not documented)
    wallet_invoices: bool = False  # sendInvoice paid from the messenger's wallet (Bale)

    @property
    def prefix(self) -> str:
        """Of conversation ids `<prefix>:<chat>[:<user>]` (`tg`, `bale`): bot.channels.addresses has the table."""
        return addresses.PREFIXES[self.name]

    @property
    def secret_in_path(self) -> bool:
        """No secret header: the webhook address carries the secret (as for Kavenegar)."""
        return self.secret_header is None

    def variable(self, suffix: str) -> str:
        """`HAMSAFAR_BALE_TOKEN` for suffix `TOKEN`."""
        return f"{self.env}_{suffix}"

    def conversation_id(self, chat_id: int, chat_type: str, user_id: Optional[int]) -> str:
        """The rule: `<prefix>:<chat>` in private chats, `<prefix>:<chat>:<user>` in groups."""
        user = None if chat_type == "private" else user_id
        return str(addresses.ConversationAddress.of_chat(self.name, chat_id, user))

    def chat_of(self, recipient_id: str) -> int:
        """The chat id of a conversation id (`tg:123`, `bale:-100123:456`) or of a bare `123[:456]`."""
        return int(addresses.chat_part(addresses.address_of(recipient_id, self.name)))


TELEGRAM = Platform(
    name="telegram",
    rasa_name="hamsafar_telegram",
    title="telegram",
    env="HAMSAFAR_TELEGRAM",
    base_url="https://api.telegram.org/bot",
    base_file_url="https://api.telegram.org/file/bot",
    secret_header="X-Telegram-Bot-Api-Secret-Token",
    allowed_updates=("message", "callback_query", "my_chat_member"),
)

BALE = Platform(
    name="bale",
    rasa_name="hamsafar_bale",
    title="bale",
    env="HAMSAFAR_BALE",
    base_url="https://tapi.bale.ai/bot",
    base_file_url="https://tapi.bale.ai/file/bot",
    secret_header=None,        # Bale's setWebhook takes only `url`: no secret_token, no header
    allowed_updates=None,      # not a documented parameter of Bale's setWebhook/getUpdates
    poll_pause=1.0,            # Bale's own samples poll every 2 s; long polling is not documented
    wallet_invoices=True,
)

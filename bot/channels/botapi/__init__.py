"""The Bot-API channel: Telegram and Bale (بله) through python-telegram-bot.

Both messengers speak the same HTTP Bot API (`/bot<token>/METHOD`, the `ok`/`result`
envelope, updates, inline keyboards, contacts), so one channel serves both; a
`Platform` (`_platform.py`) holds what differs. The public face:

* `BotApiInput` / `BotApiOutput`: the Rasa input channel and its output; the
  platform modules `bot.channels.telegram` and `bot.channels.bale` subclass them;
* `run_polling`: getUpdates for a bot without a public address;
* `split_message`, `callback_data_for`, `payload_for`: text and buttons in the Bot-API format;
* `invoice_json`, `InvoiceSettings`: wallet invoices for orders (Bale).

Private modules, one concern each: `_input` (webhook, updates, contacts, consent),
`_output` (sending, buttons, 429 retries), `_polling` (getUpdates), `_formatting`
(splitting, callback data), `_pacing` (per-chat and global send rates), `_platform`
(what differs between Telegram and Bale). What the channel itself says to customers is
in the text catalogue (bot.text.catalogue, keys `botapi.*`).
`payments` stays public: the action server builds invoices with it and the erasure
registry names its eraser by path.
"""

from ._formatting import (MAX_CALLBACK_BYTES, MAX_MESSAGE_LENGTH, callback_data_for, payload_for,
                          split_message)
from ._input import BotApiInput, OnNewMessage
from ._output import BotApiOutput, may_have_arrived, never_written
from ._platform import BALE, TELEGRAM, Platform
from ._polling import run_polling
from .payments import InvoiceSettings, invoice_json

__all__ = [
    "BALE",
    "MAX_CALLBACK_BYTES",
    "MAX_MESSAGE_LENGTH",
    "TELEGRAM",
    "BotApiInput",
    "BotApiOutput",
    "InvoiceSettings",
    "OnNewMessage",
    "Platform",
    "callback_data_for",
    "invoice_json",
    "may_have_arrived",
    "never_written",
    "payload_for",
    "run_polling",
    "split_message",
]

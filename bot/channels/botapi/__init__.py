"""The Bot-API channel: Telegram and Bale (بله) through python-telegram-bot.

Both messengers speak the same HTTP Bot API (`/bot<token>/METHOD`, the `ok`/`result`
envelope, updates, inline keyboards, contacts), so one channel serves both; a
`Platform` (`platform.py`) holds what differs. The public face:

* `BotApiInput` / `BotApiOutput`: the Rasa input channel and its output; the
  platform modules `bot.channels.telegram` and `bot.channels.bale` subclass them;
* `run_polling`: getUpdates for a bot without a public address;
* `split_message`, `callback_data_for`, `payload_for`: text and buttons in the Bot-API format;
* `invoice_json`, `InvoiceSettings`: wallet invoices for orders (Bale).

Private modules: `input`, `output`, `polling`, `formatting`, `pacing`, `payments`,
`texts`, `platform`.
"""

from bot.channels.botapi.formatting import (MAX_CALLBACK_BYTES, MAX_MESSAGE_LENGTH, callback_data_for, payload_for,
                                            split_message)
from bot.channels.botapi.input import BotApiInput, OnNewMessage
from bot.channels.botapi.output import BotApiOutput
from bot.channels.botapi.payments import InvoiceSettings, invoice_json
from bot.channels.botapi.platform import BALE, TELEGRAM, Platform
from bot.channels.botapi.polling import run_polling
from bot.channels.botapi.texts import POLITE

__all__ = [
    "BALE",
    "MAX_CALLBACK_BYTES",
    "MAX_MESSAGE_LENGTH",
    "POLITE",
    "TELEGRAM",
    "BotApiInput",
    "BotApiOutput",
    "InvoiceSettings",
    "OnNewMessage",
    "Platform",
    "callback_data_for",
    "invoice_json",
    "payload_for",
    "run_polling",
    "split_message",
]

"""Rasa's REST channel with the input checks Rasa leaves out.

Rasa's own `RestInput` trusts whatever the body says: any `sender` (so a
caller could write into a Telegram customer's conversation), any
`input_channel` and `metadata`, and it answers 200 even when handling failed.
This subclass keeps Rasa's URL and reply format (`POST /webhooks/rest/webhook`
with `{"sender": ..., "message": ...}` -> list of bot messages) and decides:

* the body must be a JSON object with a string `sender` (1-64 characters of
  ``[A-Za-z0-9_.-]``) and a non-empty string `message` of at most
  `MAX_MESSAGE_CHARS` characters; otherwise 400/413 with a JSON error and
  nothing is written;
* the conversation id is ``rest:<sender>`` — REST callers cannot reach
  conversations of other channels; `input_channel` is always ``rest`` and
  client `metadata` is dropped (identity never comes from this channel);
* typed `/intent` shortcuts are neutralised (`bot.channels.base.guard_customer_text`),
  as on every channel: a customer cannot `/restart` out of a handoff or set slots;
  the payload of a button the bot showed in the conversation's latest messages still works;
* if `HAMSAFAR_REST_TOKEN` is set, ``Authorization: Bearer <token>`` is
  required (401 otherwise) — set it whenever the port is reachable by others;
* a failure while handling answers 500, not 200; when the conversation store
  (or our database, or the lock store) fails it answers 503 with
  `{"error": "unavailable", ...}` and `Retry-After`: the message was not
  processed and nothing of it was stored (the turn is stored at its end, in one
  transaction, and the replies are only returned with a 200), so sending it again
  is safe. Rasa never answers from an empty conversation instead
  (`bot.channels.base.refuse_store_failures`). 503 on timeout, too.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import settings
from bot.channels.addresses import conversation_id
from bot.text.persian import is_blank
from bot.channels.base import guard_customer_text, offered_payload, refuse_store_failures, retryable

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
MAX_BODY_BYTES = 64 * 1024
SENDER_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class InvalidRequest(Exception):
    """A request we refuse, with the HTTP status and a message for the caller."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


RETRY_AFTER_SECONDS = 5


def error_response(status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status, headers=headers)


def parse_message_request(body: bytes) -> Tuple[str, str]:
    """Validate a REST webhook body; return (sender, text) or raise InvalidRequest."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidRequest(413, "too_large", f"body is over {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest(400, "invalid_utf8", "body is not valid UTF-8")
    except (ValueError, RecursionError):  # bad JSON, a number over 4300 digits, nesting too deep
        raise InvalidRequest(400, "invalid_json", "body is not valid JSON")
    if not isinstance(payload, dict):
        raise InvalidRequest(400, "invalid_json", "body must be a JSON object")
    sender = payload.get("sender")
    if not isinstance(sender, str) or not SENDER_PATTERN.match(sender):
        raise InvalidRequest(400, "invalid_sender", "sender must be a string of 1-64 letters, digits, '_', '.' or '-'")
    text = payload.get("message")
    if not isinstance(text, str) or is_blank(text):   # "\u200c" alone is empty too
        raise InvalidRequest(400, "empty_message", "message must be a non-empty string")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):  # an escaped lone surrogate: not writable as UTF-8
        raise InvalidRequest(400, "invalid_utf8", "message contains unpaired surrogates")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidRequest(413, "message_too_long", f"message is over {MAX_MESSAGE_CHARS} characters")
    return sender, text


class ValidatedRestInput(RestInput):
    """`rest` channel with validation, namespaced senders and honest status codes."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def __init__(self, token: Optional[str] = None) -> None:
        self.token = token or settings.current().rest_token

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "ValidatedRestInput":
        return cls(token=(credentials or {}).get("token"))

    def _authorised(self, request: Request) -> bool:
        if not self.token:
            return True
        supplied = request.headers.get("authorization", "")
        return hmac.compare_digest(supplied.encode(), f"Bearer {self.token}".encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("hamsafar_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                return error_response(401, "unauthorised", "missing or wrong bearer token")
            try:
                sender, text = parse_message_request(request.body or b"")
            except InvalidRequest as error:
                return error_response(error.status, error.code, error.message)
            collector = CollectingOutputChannel()
            refuse_store_failures(request.app)
            if not await offered_payload(request, conversation_id("rest", sender), text):
                text = guard_customer_text(text)
            message = UserMessage(text, collector, conversation_id("rest", sender), input_channel=self.name())
            try:
                await on_new_message(message)
            except asyncio.CancelledError:
                logger.error("REST message for %s timed out", message.sender_id)
                return error_response(503, "timeout", "the assistant did not answer in time")
            except Exception as error:  # noqa: BLE001 - nothing of the message was stored
                if retryable(error):
                    logger.warning("REST message for %s not processed: %s (%s)", message.sender_id,
                                   type(error).__name__, type(error.__cause__).__name__ if error.__cause__ else "-")
                    return error_response(503, "unavailable", "the assistant cannot reach this conversation right "
                                          "now; nothing was processed, send the message again",
                                          headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
                logger.exception("REST message for %s failed", message.sender_id)
                return error_response(500, "internal_error", "the assistant failed to handle the message")
            return response.json(collector.messages)

        return webhook

"""SMS channel: the Rasa input channel `sms` and the SMS output used by everything.

Inbound webhooks (routes under `/webhooks/sms/`):

* `POST /webhooks/sms/twilio` — authenticated by `X-Twilio-Signature`;
* `GET|POST /webhooks/sms/kavenegar/<secret>` — Kavenegar signs nothing, so
  the secret is part of the callback address.

A message is processed before the webhook is answered (one number's messages in
arrival order): 200 once it is processed (its turn stored), 503/500 when it could
not be — then nothing of it is stored, so a retry of the gateway (Twilio retries
a 5xx when the webhook address asks for it: `#rp=5xx&rc=3`, docs/channels.md)
processes it. The gateway's message id is remembered only once the message was
processed; a repeat is answered 200 and not processed again.

Every other inbound message links the conversation to the CRM customer of the
sending number (`bot.identity.verification.verify_sms_sender`) before it reaches
the bot (`metadata["sms_identity"]`).

Opt-out keywords are handled BEFORE any NLU: «لغو», «لغو۱۱», STOP, UNSUBSCRIBE…
record the opt-out and send one confirmation; an opted-out number gets nothing
at all (and its messages do not reach the bot) until it sends START/«شروع».

Outbound (`SmsOutput.send_sms`): consent check, one `sms_messages` row per
idempotency key (segments, encoding and cost estimate recorded), retries that
never send one message twice: a key already `sent` is not sent again; after an
ambiguous failure (timeout after the request left, 5xx) the provider is asked
(`find_sent`) before another attempt, and if it cannot be asked the message
stays `sending` (unknown) and is reported instead of resent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, UserMessage

from bot import settings
from bot.channels import addresses, consent
from bot.channels.base import (ArrivalOrder, ProactiveOutput, forward_then_reply, guard_customer_text,
                               inbound_metadata, process_once, refusal_status, refuse_store_failures,
                               register_output, retryable, run_identity_check)
from bot.channels.models import SmsMessage, utcnow
from bot.channels.sms_gateways import GATEWAYS, GatewayError, KavenegarGateway, SmsGateway, TwilioGateway, segment_info
from bot import schema
from bot.text.catalogue import text as catalogue_text
from bot.text.identifiers import normalise_phone
from bot.text.persian import has_persian_letters

logger = logging.getLogger(__name__)

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


_CODE = re.compile(r"(?<![0-9۰-۹٠-٩])[0-9۰-۹٠-٩]{4,8}(?![0-9۰-۹٠-٩])")


def stored_text(text: str, kind: str) -> str:
    """What the SMS log keeps of a message: a one-time code is never stored — its digits are
    masked (the gateway gets the real text; the log only shows that a code was sent)."""
    return _CODE.sub(lambda m: "•" * len(m.group(0)), text) if kind == "otp" else text


@dataclass
class SmsResult:
    """What became of one SMS (sent, failed, blocked by consent, unknown), with its cost; returned to
    callers and tests."""

    status: str  # sent | failed | blocked | unknown
    idempotency_key: str
    phone: str
    gateway_message_id: Optional[str] = None
    encoding: str = ""
    segments: int = 0
    cost: Optional[float] = None
    attempts: int = 0
    error: Optional[str] = None
    sent_now: bool = False  # False when an earlier call already sent it

    @property
    def ok(self) -> bool:
        return self.status == "sent"


class SmsSendError(Exception):
    """A message could not be sent (or its outcome is unknown); `.result` says why."""

    def __init__(self, result: SmsResult) -> None:
        super().__init__(f"SMS to {result.phone[:-4]}**** {result.status}: {result.error}")
        self.result = result


class SmsOutput(ProactiveOutput):
    """Sends SMS through one gateway; usable without an incoming message."""

    channel = "sms"

    @classmethod
    def name(cls) -> str:
        return "sms"

    def __init__(
        self,
        gateway: SmsGateway,
        *,
        cost_per_segment: Optional[Dict[str, float]] = None,
        currency: Optional[str] = None,
        max_attempts: int = 3,
        backoff: float = 0.5,
        proactive: bool = True,
        reply_to: Optional[str] = None,
    ) -> None:
        super().__init__(proactive=proactive)
        self.gateway = gateway
        self.cost_per_segment = cost_per_segment or {}
        self.currency = currency
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.reply_to = reply_to
        self._counter = 0

    def for_reply(self, inbound_id: str) -> "SmsOutput":
        return SmsOutput(
            self.gateway, cost_per_segment=self.cost_per_segment, currency=self.currency,
            max_attempts=self.max_attempts, backoff=self.backoff, proactive=False, reply_to=inbound_id,
        )

    def cost_of(self, encoding: str, segments: int) -> Optional[float]:
        price = self.cost_per_segment.get(encoding)
        return None if price is None else round(price * segments, 4)

    # ProactiveOutput: bot replies and proactive sends arrive here after consent.
    async def send_text(self, recipient_id, text, buttons=None, *, proactive=True, kind="message"):  # type: ignore[no-untyped-def]
        if buttons:
            lines = [f"{i}. {b.get('title') or b.get('payload')}" for i, b in enumerate(buttons, 1)]
            text = text + "\n" + "\n".join(lines)
        self._counter += 1
        key = f"reply:{self.reply_to}:{self._counter}" if self.reply_to else None
        result = await self.send_sms(recipient_id, text, idempotency_key=key, kind=kind,
                                     proactive=proactive, raise_on_failure=False)
        return result.ok

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        if json_message.get("text"):
            await self.send_text(recipient_id, str(json_message["text"]), proactive=self.proactive)

    async def send_sms(
        self,
        phone: str,
        text: str,
        *,
        idempotency_key: Optional[str] = None,
        kind: str = "message",
        proactive: bool = True,
        raise_on_failure: bool = True,
        resend_unconfirmed: bool = True,
    ) -> SmsResult:
        """Send one SMS at most once per `idempotency_key` (give one for anything you may retry).

        After an ambiguous failure the provider is asked first; `resend_unconfirmed=False` (journeys)
        does not send again when it does not show the message either — a request still in flight
        there is not shown yet — and leaves the outcome unknown instead, unless the provider's own
        record proves it never took the message: it answered the send itself and, asked by our
        reference, has no message with it (`_proves_not_sent`). A request never written (connection
        refused, connect or pool timeout) is not ambiguous. A message provably not sent is retried
        here (`max_attempts`) and, if it still fails, `failed` — which a caller may send again."""
        raw = addresses.address_of(phone, "sms")
        number = normalise_phone(raw) or raw
        key = idempotency_key or f"auto:{uuid.uuid4().hex}"
        info = segment_info(text)
        cost = self.cost_of(info.encoding, info.segments)

        with schema.session() as session:
            row = session.query(SmsMessage).filter_by(idempotency_key=key).one_or_none()
            if row is None:
                row = SmsMessage(
                    idempotency_key=key, gateway=self.gateway.name, phone=number, text=stored_text(text, kind), kind=kind,
                    status="pending", encoding=info.encoding, segments=info.segments, cost=cost,
                    currency=self.currency, attempts=0,
                )
                session.add(row)
                session.flush()
            row_id, status, first_at = row.id, row.status, row.created_at

        if status == "sent":
            return self._result(row_id, sent_now=False)
        if normalise_phone(raw) is None:
            self._update(row_id, status="failed", error="invalid phone number")
            return self._finish(self._result(row_id), raise_on_failure)
        if not consent.check_outbound("sms", number, proactive=proactive, kind=kind):
            self._update(row_id, status="blocked", error="recipient opted out")
            return self._finish(self._result(row_id), raise_on_failure=False)
        if status == "sending":
            # an earlier attempt's outcome is unknown: ask the provider first
            if await self._resolved_as_sent(row_id, number, text, first_at) is not False or not resend_unconfirmed:
                return self._finish(self._result(row_id), raise_on_failure)

        for attempt in range(1, self.max_attempts + 1):
            self._update(row_id, status="sending", increment=True)
            try:
                sent = await self.gateway.send(number, text, local_id=row_id)
            except GatewayError as error:
                logger.warning("sms: %s attempt %d failed: %s", self.gateway.name, attempt, error)
                if error.ambiguous:
                    outcome = await self._resolved_as_sent(row_id, number, text, first_at, error=str(error))
                    if outcome is not False:  # sent, or unknown: never send again blindly
                        return self._finish(self._result(row_id), raise_on_failure)
                    if not resend_unconfirmed and not self._proves_not_sent(error):
                        self._update(row_id, status="sending", error=f"outcome unknown: {error}; not shown by "
                                                                     f"{self.gateway.name} (yet); not resent")
                        return self._finish(self._result(row_id), raise_on_failure)
                    error = GatewayError(f"not sent: {error}; {self.gateway.name} does not have it "
                                         f"(local id {row_id})", retryable=error.retryable)
                if not error.retryable or attempt == self.max_attempts:
                    self._update(row_id, status="failed", error=str(error))
                    return self._finish(self._result(row_id), raise_on_failure)
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            self._update(row_id, status="sent", gateway_message_id=sent.message_id, error=None)
            return self._result(row_id, sent_now=True)
        return self._finish(self._result(row_id), raise_on_failure)  # pragma: no cover

    def _proves_not_sent(self, error: GatewayError) -> bool:
        """After an ambiguous error, does the provider's "no such message" prove it never took it?

        Only if the provider itself answered the send (the request is finished there, not
        in flight) and it is asked by our own reference (Kavenegar's `localid`), not by
        matching the messages it lists (Twilio)."""
        return error.answered and self.gateway.looks_up_by_reference

    async def _resolved_as_sent(self, row_id: int, phone: str, text: str, since: dt.datetime,
                                error: Optional[str] = None) -> Optional[bool]:
        """True: the provider has it (marked sent). False: it does not. None: cannot tell."""
        try:
            found = await self.gateway.find_sent(phone, text, local_id=row_id, since=since)
        except GatewayError as lookup_error:
            logger.error("sms: outcome of message %s unknown and lookup failed (%s); not resending",
                         row_id, lookup_error)
            self._update(row_id, status="sending", error=f"outcome unknown: {error}; lookup failed: {lookup_error}")
            return None
        if found is None:
            return False
        logger.info("sms: message %s had reached %s despite the error; not resending", row_id, self.gateway.name)
        self._update(row_id, status="sent", gateway_message_id=found.message_id, error=None)
        return True

    def _update(self, row_id: int, *, increment: bool = False, **values: Any) -> None:
        with schema.session() as session:
            row = session.get(SmsMessage, row_id)
            for name, value in values.items():
                setattr(row, name, value)
            if increment:
                row.attempts = (row.attempts or 0) + 1
            row.updated_at = utcnow()

    def _result(self, row_id: int, *, sent_now: bool = False) -> SmsResult:
        with schema.session() as session:
            row = session.get(SmsMessage, row_id)
            status = {"sending": "unknown", "pending": "unknown"}.get(row.status, row.status)
            return SmsResult(
                status=status, idempotency_key=row.idempotency_key, phone=row.phone,
                gateway_message_id=row.gateway_message_id, encoding=row.encoding, segments=row.segments,
                cost=row.cost, attempts=row.attempts, error=row.error, sent_now=sent_now,
            )

    def _finish(self, result: SmsResult, raise_on_failure: bool) -> SmsResult:
        if result.status in ("failed", "unknown"):
            logger.error("sms: message %s %s: %s", result.idempotency_key, result.status, result.error)
            if raise_on_failure:
                raise SmsSendError(result)
        return result


class SmsCodeSender:
    """bot.identity's OTP `CodeSender`: synchronous `send(phone, text)` (as
    `bot.identity.verification.CodeSender` expects), plus `asend` for async code.

    Raises SmsSendError if the code could not be sent (or the number opted out).
    Usable in the action server: `set_code_sender(code_sender_from_env())`.
    """

    def __init__(self, output: SmsOutput) -> None:
        self.output = output

    async def asend(self, phone: str, text: str) -> SmsResult:
        result = await self.output.send_sms(phone, text, kind="otp", proactive=False, raise_on_failure=True)
        if result.status == "blocked":
            raise SmsSendError(result)
        return result

    def send(self, phone: str, text: str) -> SmsResult:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.asend(phone, text))
        # called from async code: run on a private loop in a worker thread
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.asend(phone, text)).result()

    __call__ = send


def code_sender_from_env(credentials: Optional[Dict[str, Any]] = None) -> Optional[SmsCodeSender]:
    """An OTP sender built from the same settings as the `sms` channel (env or dict), or None."""
    return SmsInput.from_credentials(credentials or {}).code_sender()


def _cost_settings(credentials: Dict[str, Any]) -> Dict[str, float]:
    costs: Dict[str, float] = {}
    for encoding, env in (("gsm7", "HAMSAFAR_SMS_COST_GSM7"), ("ucs2", "HAMSAFAR_SMS_COST_UCS2")):
        value = credentials.get(f"cost_per_segment_{encoding}") or settings.value(env)
        if value not in (None, ""):
            costs[encoding] = float(value)
    return costs


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def identify_sender(conversation_id: str, phone: str) -> Dict[str, Any]:
    """Link the conversation to the CRM customer of the sending number (`bot.identity`).

    The number comes from the gateway's authenticated webhook (the carrier-reported
    sender), so `verify_sms_sender` treats it as verified; this is what makes the
    phone number the same customer as their Telegram user and web visitor.
    Returns `{"phone", "verified", "status"}` for the message metadata.
    """
    outcome: Dict[str, Any] = {"phone": phone, "verified": False, "status": None}
    try:
        from bot.identity.verification import verify_sms_sender

        result = verify_sms_sender(conversation_id, phone)
        outcome["verified"] = bool(getattr(result, "ok", False))
        outcome["status"] = getattr(result, "status", None)
    except ImportError:
        logger.warning("sms: bot.identity.verification not available; sender not identified")
    except Exception:  # noqa: BLE001 - CRM or identity store down: the message still reaches the bot
        logger.exception("sms: identifying the sender failed")
        outcome["status"] = "error"
    return outcome


class SmsInput(InputChannel):
    """Rasa input channel `sms` (Kavenegar and/or Twilio webhooks)."""

    @classmethod
    def name(cls) -> str:
        return "sms"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "SmsInput":
        credentials = credentials or {}

        def pick(key: str, env: str) -> Optional[str]:
            value = credentials.get(key)
            value = str(value).strip() if value not in (None, "") else None
            return value or settings.env_secret(env)

        gateways: Dict[str, SmsGateway] = {}
        api_key = pick("kavenegar_api_key", "HAMSAFAR_KAVENEGAR_API_KEY")
        if api_key:
            gateways["kavenegar"] = KavenegarGateway(
                api_key, sender=pick("kavenegar_sender", "HAMSAFAR_KAVENEGAR_SENDER"),
                inbound_secret=pick("kavenegar_inbound_secret", "HAMSAFAR_KAVENEGAR_INBOUND_SECRET"),
                base_url=pick("kavenegar_base_url", "HAMSAFAR_KAVENEGAR_BASE_URL"),
            )
        sid, token = pick("twilio_account_sid", "HAMSAFAR_TWILIO_ACCOUNT_SID"), pick("twilio_auth_token", "HAMSAFAR_TWILIO_AUTH_TOKEN")
        if sid and token:
            gateways["twilio"] = TwilioGateway(
                sid, token, from_number=pick("twilio_from", "HAMSAFAR_TWILIO_FROM"),
                messaging_service_sid=pick("twilio_messaging_service_sid", "HAMSAFAR_TWILIO_MESSAGING_SERVICE_SID"),
                base_url=pick("twilio_base_url", "HAMSAFAR_TWILIO_BASE_URL"),
                webhook_url=pick("twilio_webhook_url", "HAMSAFAR_TWILIO_WEBHOOK_URL"),
            )
        outbound = pick("gateway", "HAMSAFAR_SMS_GATEWAY") or next(iter(gateways), None)
        if outbound and outbound not in GATEWAYS:  # a typo would leave the channel unable to send, silently
            raise ValueError(f"sms: unknown gateway {outbound!r} (credentials `gateway` or HAMSAFAR_SMS_GATEWAY); "
                             f"known: {', '.join(GATEWAYS)}")
        return cls(gateways, outbound=outbound, cost_per_segment=_cost_settings(credentials),
                   currency=pick("currency", "HAMSAFAR_SMS_CURRENCY"))

    def __init__(
        self,
        gateways: Dict[str, SmsGateway],
        *,
        outbound: Optional[str] = None,
        cost_per_segment: Optional[Dict[str, float]] = None,
        currency: Optional[str] = None,
        max_attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.gateways = gateways
        self.output: Optional[SmsOutput] = None
        if outbound and outbound in gateways:
            self.output = SmsOutput(gateways[outbound], cost_per_segment=cost_per_segment, currency=currency,
                                    max_attempts=max_attempts, backoff=backoff)
            register_output(self.output)
        else:
            logger.warning("sms: no outbound gateway configured; SMS channel cannot send")
        self._tasks: Set[asyncio.Task] = set()
        self._order = ArrivalOrder()

    def get_output_channel(self) -> Optional[SmsOutput]:
        return self.output

    def code_sender(self) -> Optional[SmsCodeSender]:
        return SmsCodeSender(self.output) if self.output else None

    async def drain(self, timeout: float = 10) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def handle_inbound(self, gateway: str, phone_raw: str, text: str, external_id: str,
                             on_new_message: OnNewMessage, to: Optional[str] = None) -> str:
        """Process one inbound SMS once: opt-out/opt-in keywords first, then the bot.

        Returns what happened (for tests/logs): "duplicate", "opted_out", "forwarded"...
        Raises if it could not be processed; then nothing remembers the message id.
        """
        phone = normalise_phone(phone_raw) or phone_raw
        delivery = f"{gateway}:{external_id}" if external_id else None
        result = await process_once(self._order, phone, "sms", delivery,
                                    lambda: self._handle(gateway, phone, text, external_id, on_new_message, to))
        return str(result)

    async def _handle(self, gateway: str, phone: str, text: str, external_id: str,
                      on_new_message: OnNewMessage, to: Optional[str]) -> str:
        word = consent.keyword(text)
        lang = "fa" if has_persian_letters(text) else "en"
        opted_out = consent.is_opted_out("sms", phone)
        if word == "opt_out":
            if consent.opt_out("sms", phone, source="keyword") and self.output:
                await self.output.send_sms(phone, catalogue_text("sms.opt_out", lang), kind="opt_out_confirmation",
                                           idempotency_key=f"optout:{gateway}:{external_id or uuid.uuid4().hex}",
                                           proactive=False, raise_on_failure=False)
            return "opted_out"
        if opted_out:
            if word == "opt_in":
                consent.opt_in("sms", phone, source="keyword")
                if self.output:
                    await self.output.send_sms(phone, catalogue_text("sms.opt_in", lang), kind="opt_in_confirmation",
                                               idempotency_key=f"optin:{gateway}:{external_id or uuid.uuid4().hex}",
                                               proactive=False, raise_on_failure=False)
                return "opted_in"
            logger.info("sms: message from an opted-out number ignored (it can send START)")
            return "ignored_opted_out"
        if self.output is None:
            return "no_output"
        delivery = f"{gateway}:{external_id}" if external_id else None
        output = self.output.for_reply(delivery or f"{gateway}:{uuid.uuid4().hex}")
        message = UserMessage(
            guard_customer_text(text), output, addresses.conversation_id("sms", phone), input_channel=self.name(),
            metadata={"channel": "sms", "sms": {"gateway": gateway, "message_id": external_id, "to": to},
                      **inbound_metadata("sms", delivery)},
        )
        message.metadata["sms_identity"] = await run_identity_check(identify_sender, message.sender_id, phone)
        await forward_then_reply(on_new_message, message)
        return "forwarded"

    async def receive(self, request: Request, gateway: str, phone: str, text: str, external_id: str,
                      on_new_message: OnNewMessage, to: Optional[str]) -> Optional[HTTPResponse]:
        """`handle_inbound` for a webhook: None once handled, else the refusal that makes the gateway retry."""
        refuse_store_failures(request.app)
        try:
            await self.handle_inbound(gateway, phone, text, external_id, on_new_message, to)
        except Exception as error:  # not processed, nothing stored: the gateway's retry delivers it again
            cause = type(error.__cause__).__name__ if error.__cause__ else "-"
            if retryable(error):
                logger.warning("sms: %s message %s not processed (%s: %s); answered so it is retried", gateway,
                               external_id or "-", type(error).__name__, cause)
            else:
                logger.error("sms: %s message %s not processed", gateway, external_id or "-", exc_info=error)
            return response.json({"error": "not processed; deliver it again"}, status=refusal_status(error))
        return None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint(f"sms_{id(self)}", __name__)
        channel = self

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "gateways": sorted(channel.gateways),
                                  "outbound": channel.output.gateway.name if channel.output else None})

        @bp.route("/twilio", methods=["POST"])
        async def twilio(request: Request) -> HTTPResponse:
            gateway = channel.gateways.get("twilio")
            if gateway is None:
                return response.json({"error": "twilio not configured"}, status=404)
            form = request.form or {}
            if not gateway.verify_inbound(request.url, form, request.headers, None):
                return response.json({"error": "invalid signature"}, status=403)
            single = {name: values[0] for name, values in form.items() if values}
            inbound = gateway.parse_inbound(single)
            if inbound is None:
                return response.json({"error": "missing From/Body"}, status=400)
            refused = await channel.receive(request, "twilio", inbound.phone, inbound.text, inbound.external_id,
                                            on_new_message, inbound.to)
            return refused or response.text(TWIML_EMPTY, content_type="text/xml")

        @bp.route("/kavenegar/<secret>", methods=["GET", "POST"])
        async def kavenegar(request: Request, secret: str) -> HTTPResponse:
            gateway = channel.gateways.get("kavenegar")
            if gateway is None or not gateway.verify_inbound(request.url, {}, request.headers, secret):
                return response.json({"error": "forbidden"}, status=403)
            params = {name: values[0] for name, values in (request.args or {}).items() if values}
            params.update({name: values[0] for name, values in (request.form or {}).items() if values})
            inbound = gateway.parse_inbound(params)
            if inbound is None:
                return response.json({"error": "missing from/message"}, status=400)
            refused = await channel.receive(request, "kavenegar", inbound.phone, inbound.text, inbound.external_id,
                                            on_new_message, inbound.to)
            return refused or response.text("ok")

        @bp.listener("before_server_stop")
        async def stop(app, loop) -> None:  # type: ignore[no-untyped-def]
            await channel.drain(timeout=5)

        return bp

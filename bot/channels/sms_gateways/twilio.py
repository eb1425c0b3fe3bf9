"""Twilio Programmable Messaging over its REST API with httpx.

Outbound: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP
Basic auth (Account SID, auth token), form-encoded `To`, `From` (or
`MessagingServiceSid`), `Body`.

Twilio has no idempotency key for Messages, so after an ambiguous failure we
list `Messages.json?To=...&From=...` (newest first) and look for the same body
created since our first attempt; only if it is not there do we send again, and
if the listing itself fails we do not resend. The listing is no lookup by our own
reference (Twilio keeps none), so for sends that must not be repeated
(`resend_unconfirmed=False`, journeys) a message it does not list stays unknown.

Inbound: Twilio signs every webhook: `X-Twilio-Signature` = base64(HMAC-SHA1(auth
token, full URL + every POST parameter name and value, sorted by name)). The URL
must be the public one Twilio called (`webhook_url` in the credentials when the
server is behind a proxy). Compared in constant time.

Twilio does not retry a failed messaging webhook unless its address asks for it
with connection overrides in the fragment: configure
`https://<host>/webhooks/sms/twilio#rp=5xx&rc=3` so a message the bot refused
(503 while its database is down) is delivered again, with the same MessageSid.
"""

from __future__ import annotations

import base64
import asyncio
import datetime as dt
import email.utils
import hashlib
import hmac
from typing import Any, Iterable, List, Mapping, Optional, Tuple

import httpx

from bot.channels.redaction import register_secret
from bot.channels.sms_gateways.base import (
    GatewayError, InboundSms, SendResult, SmsGateway, classify_status, transport_failure,
)

DEFAULT_BASE_URL = "https://api.twilio.com"


def twilio_signature(auth_token: str, url: str, params: Iterable[Tuple[str, str]]) -> str:
    """Twilio's request signature for `url` and POST `params` (name, value pairs)."""
    payload = url + "".join(f"{name}{value}" for name, value in sorted(params, key=lambda p: (p[0], p[1])))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class TwilioGateway(SmsGateway):
    """Sends and receives SMS through Twilio (REST API, signed inbound webhooks)."""

    name = "twilio"

    def __init__(
        self, account_sid: str, auth_token: str, *, from_number: Optional[str] = None,
        messaging_service_sid: Optional[str] = None, base_url: Optional[str] = None,
        webhook_url: Optional[str] = None, timeout: float = 10.0,
    ) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.from_number, self.messaging_service_sid = from_number, messaging_service_sid
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.webhook_url = webhook_url
        self.timeout = timeout
        register_secret(auth_token)
        self._client: Optional[httpx.AsyncClient] = None
        self._client_loop: Optional[asyncio.AbstractEventLoop] = None

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:  # one client per event loop
            self._client_loop = loop
            self._client = httpx.AsyncClient(timeout=self.timeout, auth=(self.account_sid, self.auth_token))
        return self._client

    @property
    def _messages_url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    async def _request(self, method: str, **kwargs: Any) -> dict:
        try:
            response = await self._http().request(method, self._messages_url, **kwargs)
        except httpx.HTTPError as error:
            raise transport_failure(error) from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"message": response.text[:200]}
            body = body if isinstance(body, dict) else {"message": str(body)[:200]}
            retryable, ambiguous = classify_status(response.status_code)
            if method == "GET":
                ambiguous = False
            raise GatewayError(
                f"twilio {method} failed: {response.status_code} {body.get('code', '')} {body.get('message', '')}",
                retryable=retryable, ambiguous=ambiguous, status_code=response.status_code, code=body.get("code"),
                answered="code" in body and "status" in body,   # Twilio's error object, not a proxy's page
            )
        return response.json()

    async def send(self, phone: str, text: str, *, local_id: int) -> SendResult:
        data = {"To": phone, "Body": text}
        if self.messaging_service_sid:
            data["MessagingServiceSid"] = self.messaging_service_sid
        elif self.from_number:
            data["From"] = self.from_number
        body = await self._request("POST", data=data)
        return SendResult(str(body.get("sid", "")), "sent", body)

    async def find_sent(self, phone: str, text: str, *, local_id: int, since: dt.datetime) -> Optional[SendResult]:
        params = {"To": phone, "PageSize": "50"}
        if self.from_number and not self.messaging_service_sid:
            params["From"] = self.from_number
        body = await self._request("GET", params=params)
        floor = since.replace(tzinfo=dt.timezone.utc) - dt.timedelta(seconds=120)  # clock skew
        for message in body.get("messages") or []:
            if message.get("body") != text:
                continue
            created = message.get("date_created")
            try:
                when = email.utils.parsedate_to_datetime(created) if created else None
            except (TypeError, ValueError):
                when = None
            if when is None or when >= floor:
                return SendResult(str(message.get("sid", "")), "sent", message)
        return None

    def verify_inbound(self, url, params, headers, path_secret) -> bool:  # type: ignore[no-untyped-def]
        given = headers.get("X-Twilio-Signature") or headers.get("x-twilio-signature") or ""
        if not given:
            return False
        pairs = [(name, value) for name, values in params.items() for value in values]
        return any(hmac.compare_digest(given.encode("utf-8", "replace"),
                                       twilio_signature(self.auth_token, address, pairs).encode("ascii"))
                   for address in self.signed_addresses(url))

    def signed_addresses(self, url: str) -> List[str]:
        """The address Twilio signs: the configured one (or the request's), with and without a `#rp=...` fragment.

        Connection overrides (`#rp=5xx&rc=3`, which make Twilio retry a refused
        message) live in the fragment, which Twilio does not send; accepting the
        signature of either form keeps the check working whichever Twilio signs.
        """
        address = self.webhook_url or url
        return [address, address.split("#", 1)[0]] if "#" in address else [address]

    def parse_inbound(self, params: Mapping[str, Any]) -> Optional[InboundSms]:
        phone, text = params.get("From"), params.get("Body")
        if not phone or text is None:
            return None
        return InboundSms(str(phone), str(text), str(params.get("MessageSid") or params.get("SmsSid") or ""), params.get("To"))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

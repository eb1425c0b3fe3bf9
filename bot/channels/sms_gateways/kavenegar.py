"""Kavenegar (kavenegar.com) over its REST API with httpx.

Outbound: `POST {base}/v1/{API-KEY}/sms/send.json` with `receptor`, `message`,
`sender` and `localid`; the answer is `{"return": {"status": 200, ...},
"entries": [{"messageid": ...}]}`.

Made safe against double sends by `localid`: every message carries our
`sms_messages.id` as `localid`, and after an ambiguous failure we ask
`sms/statuslocalmessageid.json?localid=...` before sending again; if that
lookup fails we do not resend (the message stays `sending` = unknown).
The lookup proves "not sent" only once Kavenegar itself answered the send
(its JSON envelope, `GatewayError.answered`): after a timeout or a dropped
connection the request may still be queued there and not shown yet.

Inbound: Kavenegar signs nothing, so the receive URL configured in its panel
contains a long random secret: `https://<host>/webhooks/sms/kavenegar/<secret>`;
the secret is compared in constant time. Kavenegar calls it with `from`, `to`,
`message` and `messageid` (GET query or POST form; both accepted).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
from typing import Any, Mapping, Optional

import httpx

from bot.channels.redaction import register_secret
from bot.channels.sms_gateways.base import (
    GatewayError, InboundSms, SendResult, SmsGateway, classify_status, transport_failure,
)
from bot.text.identifiers import national_phone

DEFAULT_BASE_URL = "https://api.kavenegar.com"


def receptor(phone: str) -> str:
    """Kavenegar's receptor form: `09xxxxxxxxx` for Iranian mobiles, `00...` otherwise."""
    if phone.startswith("+98"):
        return national_phone(phone)
    return "00" + phone.lstrip("+")


class KavenegarGateway(SmsGateway):
    """Sends and receives SMS through Kavenegar, the Iranian gateway (its REST API and inbound webhook)."""

    name = "kavenegar"
    looks_up_by_reference = True   # sms/statuslocalmessageid.json by our `localid`

    def __init__(
        self, api_key: str, *, sender: Optional[str] = None, inbound_secret: Optional[str] = None,
        base_url: Optional[str] = None, timeout: float = 10.0,
    ) -> None:
        self.api_key, self.sender, self.inbound_secret = api_key, sender, inbound_secret
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        register_secret(api_key)  # it is part of every request URL
        if inbound_secret:
            register_secret(inbound_secret)
        self._client: Optional[httpx.AsyncClient] = None
        self._client_loop: Optional[asyncio.AbstractEventLoop] = None

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:  # one client per event loop
            self._client_loop = loop
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def _call(self, method: str, data: Mapping[str, Any]) -> dict:
        url = f"{self.base_url}/v1/{self.api_key}/{method}"
        try:
            response = await self._http().post(url, data=data)
        except httpx.HTTPError as error:
            raise transport_failure(error) from None
        envelope = False  # Kavenegar's own answer ({"return": {"status", "message"}, ...}), not a proxy's page
        try:
            body = response.json()
            envelope = isinstance(body.get("return"), dict) and "status" in body["return"]
            status = int(body.get("return", {}).get("status", response.status_code))
            message = body.get("return", {}).get("message", "")
        except (ValueError, AttributeError, TypeError):
            body, status, message, envelope = {}, response.status_code, response.text[:200], False
        if response.status_code >= 400 or status != 200:
            code = status if status != 200 else response.status_code
            retryable, ambiguous = classify_status(response.status_code if response.status_code >= 400 else code)
            raise GatewayError(
                f"kavenegar {method} failed: {code} {message}", retryable=retryable, ambiguous=ambiguous,
                status_code=response.status_code, code=code, answered=envelope,
            )
        return body

    async def send(self, phone: str, text: str, *, local_id: int) -> SendResult:
        data = {"receptor": receptor(phone), "message": text, "localid": str(local_id)}
        if self.sender:
            data["sender"] = self.sender
        body = await self._call("sms/send.json", data)
        entries = body.get("entries") or [{}]
        return SendResult(str(entries[0].get("messageid", "")), "sent", entries[0])

    async def find_sent(self, phone: str, text: str, *, local_id: int, since: dt.datetime) -> Optional[SendResult]:
        body = await self._call("sms/statuslocalmessageid.json", {"localid": str(local_id)})
        for entry in body.get("entries") or []:
            try:
                message_id = int(entry.get("messageid") or 0)
            except (TypeError, ValueError):
                message_id = 0
            if message_id > 0 and str(entry.get("localid", local_id)) == str(local_id):
                return SendResult(str(message_id), "sent", entry)
        return None

    def verify_inbound(self, url, params, headers, path_secret) -> bool:  # type: ignore[no-untyped-def]
        if not self.inbound_secret or path_secret is None:
            return False
        return hmac.compare_digest(path_secret.encode("utf-8", "replace"), self.inbound_secret.encode("utf-8"))

    def parse_inbound(self, params: Mapping[str, Any]) -> Optional[InboundSms]:
        phone, text = params.get("from"), params.get("message")
        if not phone or text is None:
            return None
        return InboundSms(str(phone), str(text), str(params.get("messageid") or ""), params.get("to"))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

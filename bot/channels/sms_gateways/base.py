"""The SMS gateway interface, its errors, and SMS segmentation.

A gateway only talks to its provider: `send` one message (with our numeric
`local_id`), `find_sent` (did a message with this local id / to this phone
with this text reach the provider?), and the inbound webhook's authentication
and parsing. Logging, idempotency, retries, consent and cost live in
`bot.channels.sms.SmsOutput`, the same for every gateway.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

import httpx

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"
_BASIC = frozenset(GSM7_BASIC)
_EXTENSION = frozenset(GSM7_EXTENSION)


@dataclass(frozen=True)
class SegmentInfo:
    """How an SMS text is encoded and how many segments it costs, computed before sending."""

    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def segment_info(text: str) -> SegmentInfo:
    """Encoding and segment count: GSM-7 160 single / 153 per part, UCS-2 70 / 67.

    Persian needs UCS-2. Parts never split a GSM-7 escape pair or a UTF-16
    surrogate pair, as handsets do.
    """
    if all(c in _BASIC or c in _EXTENSION for c in text):
        sizes = [2 if c in _EXTENSION else 1 for c in text]
        single, part, encoding = 160, 153, "gsm7"
    else:
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, part, encoding = 70, 67, "ucs2"
    total = sum(sizes)
    if total <= single:
        return SegmentInfo(encoding, total, 1 if total else 1)
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return SegmentInfo(encoding, total, max(segments, math.ceil(total / part)))


@dataclass
class SendResult:
    """What a gateway said about one accepted message."""

    message_id: str
    status: str = "sent"
    raw: Dict[str, Any] = field(default_factory=dict)


@dataclass
class InboundSms:
    """One SMS received through a gateway's webhook, in the same shape for every gateway."""

    phone: str
    text: str
    external_id: str
    to: Optional[str] = None


class GatewayError(Exception):
    """A gateway call failed.

    `retryable`: trying again may succeed (network, 429, 5xx).
    `ambiguous`: the provider may have accepted the message anyway (timeout
    after the request was sent, 5xx); before any retry the log/provider must be
    checked with `find_sent`, so no message goes out twice.
    `answered`: the provider's own API answered the request (its error envelope),
    so the request is no longer in flight there; a 5xx page of a proxy in front
    of it, a timeout or a dropped connection are not answers (the provider may
    still be working on the request).
    """

    def __init__(
        self, message: str, *, retryable: bool = False, ambiguous: bool = False,
        status_code: Optional[int] = None, code: Optional[Any] = None, answered: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable, self.ambiguous, self.answered = retryable, ambiguous, answered
        self.status_code, self.code = status_code, code


class SmsGateway:
    """Interface every SMS provider implements."""

    name = "base"
    # `find_sent` asks the provider by our own reference (`local_id`), not by matching what it lists:
    # after the provider *answered* an ambiguous error, its "no such message" proves it did not take it.
    looks_up_by_reference = False

    async def send(self, phone: str, text: str, *, local_id: int) -> SendResult:
        raise NotImplementedError

    async def find_sent(
        self, phone: str, text: str, *, local_id: int, since: dt.datetime
    ) -> Optional[SendResult]:
        """The provider's record of a message we may have sent, else None.

        Raises GatewayError if the provider cannot be asked (then the caller
        must NOT resend)."""
        raise NotImplementedError

    def verify_inbound(self, url: str, params: Mapping[str, Any], headers: Mapping[str, str], path_secret: Optional[str]) -> bool:
        raise NotImplementedError

    def parse_inbound(self, params: Mapping[str, Any]) -> Optional[InboundSms]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


# httpx failures raised before any byte of the request was written: no connection was made
# (refused, unreachable, TLS handshake, connect timeout) or none was free in the pool.
NOT_WRITTEN = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def transport_failure(error: httpx.HTTPError) -> GatewayError:
    """GatewayError for an httpx failure of a call: not sent (retry freely) if it never wrote the
    request (`NOT_WRITTEN`), else ambiguous (a read timeout, a dropped connection after writing)."""
    return GatewayError(f"{type(error).__name__}: {error}", retryable=True,
                        ambiguous=not isinstance(error, NOT_WRITTEN))


def classify_status(status: int) -> Tuple[bool, bool]:
    """(retryable, ambiguous) of an HTTP error status from a provider."""
    if status == 429:
        return True, False  # rate limited: not accepted
    if status >= 500:
        return True, True  # the provider may or may not have queued it
    return False, False

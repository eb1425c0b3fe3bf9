"""Events from the shop's platform: WooCommerce webhooks and the REST backend's event calls.

WooCommerce (topics `order.created`, `order.updated`, `product.updated`, API
version 3) signs each delivery with `X-WC-Webhook-Signature`: the base64
HMAC-SHA256 of the raw body, keyed with the webhook's secret
(`HAMSAFAR_WOOCOMMERCE_WEBHOOK_SECRET`). The body is the REST v3 record of the
order or product. WooCommerce also sends an unsigned ping (`webhook_id=N`,
form-encoded) when the webhook is saved; it is answered 200 and ignored.
A delivery is processed once: its `X-WC-Webhook-Delivery-ID` is remembered,
and the events it yields are keyed by resource, id and `date_modified_gmt`,
so the same body delivered again — a replay with a new delivery id — changes
nothing. Order status changes are found by comparing with the last status
seen for that order (`journey_watch`), since `order.updated` fires for every edit.

The REST backend (docs/crm_rest_contract.md, "Events") posts JSON events
signed our way: `X-Hamsafar-Timestamp` (Unix seconds, at most 5 minutes off)
and `X-Hamsafar-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`
with `HAMSAFAR_JOURNEY_EVENTS_SECRET`, and a unique `X-Hamsafar-Event-Id`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional

import sqlalchemy as sa

from bot.crm.base import ORDER_STATUSES, PENDING_PAYMENT
from bot.crm.policy import parse_datetime
from bot.orchestration.definition import EVENTS
from bot.orchestration.engine import Orchestrator, utcnow
from bot.orchestration.events import Emitter, EmitResult, Event
from bot.orchestration.models import StockInterest
from bot.orchestration.schedule import valid_zone
from bot.orchestration.watch import PAID_LATER, get_watch, set_watch
from bot.text.identifiers import normalise_phone

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
TOLERANCE_S = 300
WOO_TOPICS = ("order.created", "order.updated", "product.updated")
REST_RECORD_EVENTS = ("order.created", "order.updated", "product.updated")


class WebhookRejected(Exception):
    """The request is refused: HTTP `status`, machine-readable `code`, human `message`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class WebhookOutcome:
    """What one webhook call did (events, duplicate, entered), answered to the sender as JSON."""

    events: int = 0
    duplicate: bool = False
    ping: bool = False
    entered: int = 0
    ignored: Optional[str] = None

    def as_json(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"ok": True, "events": self.events, "entered": self.entered}
        if self.duplicate:
            body["duplicate"] = True
        if self.ping:
            body["ping"] = True
        if self.ignored:
            body["ignored"] = self.ignored
        return body


# --------------------------------------------------------------------------- signatures
def woocommerce_signature(body: bytes, secret: str) -> str:
    """What WooCommerce puts in X-WC-Webhook-Signature for `body`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def rest_signature(body: bytes, timestamp: str, secret: str) -> str:
    """Our REST events' X-Hamsafar-Signature for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    value = headers.get(name) or headers.get(name.lower())
    return value.strip() if isinstance(value, str) and value.strip() else None


def _json(body: bytes) -> Dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nesting too deep
        raise WebhookRejected(400, "malformed_json", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "malformed_json", "the body must be a JSON object")
    return data


def _seen(channel: str, delivery_id: str) -> bool:
    """True if this delivery id was handled before (else it is recorded now)."""
    from bot.channels.base import mark_inbound_seen

    return not mark_inbound_seen(channel, delivery_id)


def _forget(channel: str, delivery_id: str) -> None:
    """Un-record a delivery id whose events could not be applied, so the sender's retry is not a
    "duplicate" (the events are keyed: what was applied before the failure is not applied twice)."""
    from bot.channels.models import InboundSeen
    from bot import schema

    try:
        with schema.session() as session:
            session.query(InboundSeen).filter_by(channel=channel, external_id=str(delivery_id)[:100]).delete()
    except Exception:  # noqa: BLE001 - the database is down: the original error is what the caller reports
        logger.exception("journeys: could not forget delivery %s/%s", channel, delivery_id)


def _once(channel: str, delivery_id: Optional[str], apply: Callable[[], "WebhookOutcome"]) -> "WebhookOutcome":
    """Apply a checked delivery once per id: a repeat is a duplicate; a failure un-records the id."""
    if delivery_id and _seen(channel, delivery_id):
        return WebhookOutcome(duplicate=True)
    try:
        return apply()
    except BaseException:
        if delivery_id:
            _forget(channel, delivery_id)
        raise


# --------------------------------------------------------------------------- shared: orders and stock
def _status_events(o: Orchestrator, source: str, order: Dict[str, Any], created: bool, stamp: str,
                   now: dt.datetime) -> List[Event]:
    """Events of one order record: created, and a status change since the last one seen."""
    oid, status = order["order_id"], order["status"]
    base = dict(source=source, customer_id=order.get("customer_id"), phone=order.get("phone"), order_id=oid,
                data={k: v for k, v in order.items() if k in ("status", "total", "name", "language", "payment_url",
                                                              "tracking_code", "carrier", "product", "sku",
                                                              "timezone") and v})
    with o.engine.connect() as conn:
        previous = get_watch(conn, f"{source}_order", oid)
    events: List[Event] = []
    modified = order.get("modified_at") or now
    if created:
        events.append(Event("order.created", f"{source}:order:{oid}:created", order.get("created_at") or modified, **base))
    if status != previous and status in ORDER_STATUSES:
        events.append(Event(f"order.{status}", f"{source}:order:{oid}:{status}:{stamp}",
                            order.get(f"{status}_at") or modified, **base))
        if status in PAID_LATER and previous == PENDING_PAYMENT:
            events.append(Event("order.paid", f"{source}:order:{oid}:paid:{stamp}", order.get("paid_at") or modified, **base))
    return events


def _emit_all(o: Orchestrator, events: List[Event], now: dt.datetime) -> WebhookOutcome:
    emitter = Emitter(o)
    outcome = WebhookOutcome()
    for event in events:
        result: EmitResult = emitter.emit(event, now)
        if result.duplicate:
            continue
        outcome.events += 1
        outcome.entered += len(result.entered)
    if events and not outcome.events:
        outcome.duplicate = True
    return outcome


def _has_interest(o: Orchestrator, sku: str) -> bool:
    si = StockInterest.__table__
    with o.engine.connect() as conn:
        return conn.execute(sa.select(si.c.id).where(si.c.sku == sku, si.c.notified_at.is_(None)).limit(1)).first() is not None


def _remember_status(o: Orchestrator, source: str, order: Dict[str, Any], now: dt.datetime) -> None:
    with o.engine.begin() as conn:
        set_watch(conn, f"{source}_order", order["order_id"], order["status"], now)


# --------------------------------------------------------------------------- WooCommerce
def _woo_meta(record: Dict[str, Any], *keys: str) -> Optional[str]:
    from bot.crm.woocommerce import _meta

    return _meta(record, *keys)


def woo_order(record: Dict[str, Any]) -> Dict[str, Any]:
    """The fields the journeys use, from a WooCommerce REST v3 order (mapping as in bot.crm.woocommerce)."""
    from bot.crm.woocommerce import STATUS_FROM_WOO

    billing = record.get("billing") or {}
    divisor = 10 if str(record.get("currency", "")).upper() == "IRR" else 1
    try:
        total = int(round(float(record.get("total") or 0))) // divisor
    except (TypeError, ValueError):
        total = None
    items = record.get("line_items") or []
    language = (_woo_meta(record, "hamsafar_language", "language") or "").lower()
    customer = record.get("customer_id")
    status = STATUS_FROM_WOO.get(str(record.get("status", "")), str(record.get("status", "")))
    return {
        "order_id": str(record["id"]), "customer_id": str(customer) if customer not in (None, 0, "0", "") else None,
        "phone": normalise_phone(billing.get("phone") or ""), "status": status, "total": total,
        "name": " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p) or None,
        "language": language if language in ("fa", "en") else None, "payment_url": record.get("payment_url") or None,
        "timezone": valid_zone(_woo_meta(record, "hamsafar_timezone", "timezone")),
        "tracking_code": _woo_meta(record, "_tracking_number", "tracking_code", "tracking_number"),
        "carrier": _woo_meta(record, "_tracking_provider", "carrier", "tracking_provider"),
        "product": (items[0].get("name") if items else None), "sku": (items[0].get("sku") if items else None),
        "created_at": parse_datetime(record.get("date_created_gmt")),
        "modified_at": parse_datetime(record.get("date_modified_gmt")),
        "paid_at": parse_datetime(record.get("date_paid_gmt")),
        "delivered_at": parse_datetime(record.get("date_completed_gmt")),
    }


def handle_woocommerce(o: Orchestrator, headers: Mapping[str, str], body: bytes, secret: Optional[str],
                       now: Optional[dt.datetime] = None) -> WebhookOutcome:
    """Verify and apply one WooCommerce delivery; raises WebhookRejected with the HTTP answer."""
    now = now or utcnow()
    if len(body) > MAX_BODY:
        raise WebhookRejected(413, "body_too_large", f"body over {MAX_BODY} bytes")
    signature = _header(headers, "X-WC-Webhook-Signature")
    topic = _header(headers, "X-WC-Webhook-Topic")
    if signature is None and topic is None and body.startswith(b"webhook_id="):
        return WebhookOutcome(ping=True)  # WooCommerce's test ping when a webhook is saved: unsigned, no effect
    if not secret:
        raise WebhookRejected(503, "not_configured", "HAMSAFAR_WOOCOMMERCE_WEBHOOK_SECRET is not set")
    if signature is None or not hmac.compare_digest(signature.encode(), woocommerce_signature(body, secret).encode()):
        raise WebhookRejected(401, "invalid_signature", "X-WC-Webhook-Signature does not match the body")
    record = _json(body)
    if topic not in WOO_TOPICS:
        return WebhookOutcome(ignored=f"topic {topic or '-'} is not used")
    # the record is checked before its delivery id is remembered: a refused delivery may come again
    if "id" not in record:
        raise WebhookRejected(400, "invalid_record", "the record has no id")
    delivery = _header(headers, "X-WC-Webhook-Delivery-ID")
    stamp = str(record.get("date_modified_gmt") or record.get("date_modified") or "")
    if topic.startswith("order."):
        try:
            order = woo_order(record)
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError):  # a field of the wrong type (billing: [], line_items: [1]...)
            raise WebhookRejected(422, "invalid_record", "the order record has fields of the wrong type") from None

        def apply_order() -> WebhookOutcome:
            outcome = _emit_all(o, _status_events(o, "woocommerce", order, topic == "order.created", stamp, now), now)
            _remember_status(o, "woocommerce", order, now)
            return outcome

        return _once("woocommerce", delivery, apply_order)
    sku = str(record.get("sku") or record["id"])
    quantity = record.get("stock_quantity")
    try:
        in_stock = (quantity is not None and int(quantity) > 0) if quantity is not None else record.get("stock_status") == "instock"
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        raise WebhookRejected(422, "invalid_record", "stock_quantity is not a number") from None

    def apply_product() -> WebhookOutcome:
        if not in_stock or not _has_interest(o, sku):
            return WebhookOutcome(ignored="no back-in-stock news")
        return _emit_all(o, [Event("product.back_in_stock", f"woocommerce:product:{record['id']}:{stamp}", now,
                                   source="woocommerce", subject=sku, data={"sku": sku})], now)

    return _once("woocommerce", delivery, apply_product)


# --------------------------------------------------------------------------- REST backend
def _rest_order(record: Dict[str, Any], customer: Dict[str, Any], items: Any, occurred: dt.datetime) -> Dict[str, Any]:
    """The fields the journeys use, from the REST backend's Order record."""
    return {
        "order_id": str(record["order_id"]), "customer_id": str(record["customer_id"]) if record.get("customer_id") else None,
        "phone": normalise_phone(str(customer.get("phone") or "")), "status": record["status"],
        "total": record.get("total"), "name": customer.get("name"), "language": customer.get("language"),
        "timezone": valid_zone(customer.get("timezone")),
        "payment_url": record.get("payment_url"), "tracking_code": record.get("tracking_code"),
        "carrier": record.get("carrier"), "product": items[0].get("name_fa") if items else None,
        "sku": items[0].get("sku") if items else None,
        "created_at": parse_datetime(record.get("created_at")), "modified_at": parse_datetime(record.get("updated_at")) or occurred,
        "paid_at": parse_datetime(record.get("paid_at")), "shipped_at": parse_datetime(record.get("shipped_at")),
        "delivered_at": parse_datetime(record.get("delivered_at")),
    }


def handle_rest_event(o: Orchestrator, headers: Mapping[str, str], body: bytes, secret: Optional[str],
                      now: Optional[dt.datetime] = None, clock: Optional[float] = None) -> WebhookOutcome:
    """Verify and apply one event of the REST backend (signature, timestamp, event id)."""
    now = now or utcnow()
    if len(body) > MAX_BODY:
        raise WebhookRejected(413, "body_too_large", f"body over {MAX_BODY} bytes")
    if not secret:
        raise WebhookRejected(503, "not_configured", "HAMSAFAR_JOURNEY_EVENTS_SECRET is not set")
    timestamp, signature = _header(headers, "X-Hamsafar-Timestamp"), _header(headers, "X-Hamsafar-Signature")
    event_id = _header(headers, "X-Hamsafar-Event-Id")
    if not timestamp or not signature or not event_id:
        raise WebhookRejected(401, "missing_signature",
                              "X-Hamsafar-Timestamp, X-Hamsafar-Signature and X-Hamsafar-Event-Id are required")
    if not hmac.compare_digest(signature.encode(), rest_signature(body, timestamp, secret).encode()):
        raise WebhookRejected(401, "invalid_signature", "X-Hamsafar-Signature does not match the body")
    try:
        skew = abs((clock if clock is not None else time.time()) - int(timestamp))
    except ValueError:
        raise WebhookRejected(401, "invalid_timestamp", "X-Hamsafar-Timestamp must be Unix seconds") from None
    if skew > TOLERANCE_S:
        raise WebhookRejected(401, "stale_timestamp", f"X-Hamsafar-Timestamp is more than {TOLERANCE_S} s off")
    data = _json(body)
    kind = str(data.get("type") or "")
    if kind not in REST_RECORD_EVENTS and kind not in EVENTS and not kind.startswith("custom."):
        raise WebhookRejected(422, "unknown_type", f"unknown event type {kind!r}")
    # everything is checked before the event id is remembered: a refused event may be sent again, corrected
    try:
        occurred = parse_datetime(data.get("occurred_at")) or now
    except (TypeError, ValueError, OverflowError):
        raise WebhookRejected(422, "invalid_occurred_at", "occurred_at must be an ISO 8601 date or time") from None
    event_id = event_id[:100]
    if kind in ("order.created", "order.updated"):
        record = data.get("order")
        if not isinstance(record, dict) or not record.get("order_id") or record.get("status") not in ORDER_STATUSES:
            raise WebhookRejected(422, "invalid_order", "order events carry an Order record (order_id, status)")
        customer = data.get("customer") if isinstance(data.get("customer"), dict) else {}
        items = record.get("items") or []
        try:
            order = _rest_order(record, customer, items, occurred)
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError):  # a field of the wrong type (items: [1]...)
            raise WebhookRejected(422, "invalid_order", "the Order record has fields of the wrong type") from None
        stamp = str(record.get("updated_at") or event_id)

        def apply_order() -> WebhookOutcome:
            outcome = _emit_all(o, _status_events(o, "rest", order, kind == "order.created", stamp, now), now)
            _remember_status(o, "rest", order, now)
            return outcome

        return _once("rest_events", event_id, apply_order)
    if kind == "product.updated":
        product = data.get("product")
        if not isinstance(product, dict) or not product.get("sku"):
            raise WebhookRejected(422, "invalid_product", "product events carry a Product record (sku, stock)")
        sku = str(product["sku"])
        try:
            stock = int(product.get("stock") or 0)
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
            raise WebhookRejected(422, "invalid_product", "stock is not a number") from None

        def apply_product() -> WebhookOutcome:
            if stock <= 0 or not _has_interest(o, sku):
                return WebhookOutcome(ignored="no back-in-stock news")
            return _emit_all(o, [Event("product.back_in_stock", f"rest:{event_id}", occurred, source="rest", subject=sku,
                                       data={"sku": sku})], now)

        return _once("rest_events", event_id, apply_product)
    payload = data.get("data") if isinstance(data.get("data"), dict) else {}
    if not data.get("customer_id") and not data.get("phone"):
        raise WebhookRejected(422, "missing_customer", "journey events name the customer (customer_id or phone)")
    event = Event(kind, f"rest:{event_id}", occurred, source="rest",
                  customer_id=str(data["customer_id"]) if data.get("customer_id") else None,
                  phone=normalise_phone(str(data.get("phone") or "")), order_id=data.get("order_id"),
                  subject=data.get("subject"), data=payload)
    return _once("rest_events", event_id, lambda: _emit_all(o, [event], now))

"""A journey's message as the customer reads it: their name, order, product, link.

Persian messages get Persian digits, Jalali dates and «… تومان» amounts
(`bot.text.formatting`); codes, links and tracking numbers stay as the
customer types them. Values are looked up only when a template uses them
(a referral code is created only for the message that shows it). A value
that is missing (an order without a tracking code) raises `MissingValue`:
the step is skipped rather than showing the customer an empty or internal value.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from bot.crm.base import CRM, CRMError, Customer, Order, Product
from bot.crm.policy import load_policy
from bot.orchestration.definition import Button, Send, Settings
from bot.text.catalogue import text as catalogue_text
from bot.text.formatting import format_date, format_number, format_toman
from bot.text.persian import to_persian_digits

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class MissingValue(Exception):
    """A template needs a value this entry does not have (e.g. no tracking code yet)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no value for {{{name}}}")
        self.name = name


@dataclass
class Subject:
    """What the template is about: the entry's customer, order and product (as stored)."""

    customer_id: Optional[str]
    order_id: Optional[str] = None
    sku: Optional[str] = None
    ticket: Optional[str] = None
    context: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Rendered:
    """A proactive message filled in for one customer: text, buttons and the slots it sets."""

    text: str
    buttons: List[Dict[str, str]]
    slots: Dict[str, str]


def _policy_text(entry: Any, language: str) -> str:
    if isinstance(entry, dict):
        return str(entry.get(language) or entry.get("fa") or entry.get("en") or "")
    return "" if entry is None else str(entry)


class Values:
    """Placeholder values of one subject in one language, each computed once, on demand."""

    def __init__(self, subject: Subject, language: str, crm: Optional[CRM], settings: Settings,
                 customer: Optional[Customer] = None, order: Optional[Order] = None) -> None:
        self.subject, self.language, self.crm, self.settings = subject, language, crm, settings
        self.policy = load_policy().raw
        self._cache: Dict[str, Optional[str]] = {}
        self._objects: Dict[str, Any] = {}
        if customer is not None:
            self._objects["customer"] = customer
        if order is not None:
            self._objects["order"] = order

    # ---------------------------------------------------------------- CRM objects
    def _crm_call(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._objects:
            try:
                self._objects[key] = fn() if self.crm is not None else None
            except CRMError as error:
                logger.warning("journeys: %s unavailable for a message: %s", key, error)
                self._objects[key] = None
        return self._objects[key]

    def customer(self) -> Optional[Customer]:
        cid = self.subject.customer_id
        return self._crm_call("customer", lambda: self.crm.get_customer(cid)) if cid else None

    def order(self) -> Optional[Order]:
        oid = self.subject.order_id
        return self._crm_call("order", lambda: self.crm.get_order(oid)) if oid else None

    def product(self) -> Optional[Product]:
        sku = self.subject.sku
        if not sku:
            order = self.order()
            sku = order.items[0].sku if order and order.items else None
        return self._crm_call(f"product:{sku}", lambda: self.crm.get_product(sku)) if sku else None

    # ---------------------------------------------------------------- values
    def digits(self, value: Any) -> str:
        text = str(value)
        return to_persian_digits(text) if self.language == "fa" else text

    def website(self) -> str:
        return str((self.policy.get("shop") or {}).get("website") or "").rstrip("/")

    def _carrier_name(self, carrier: str) -> str:
        """The carrier as shop_policy.yml names it in the message's language (the CRM stores the Persian name)."""
        for method in (self.policy.get("shipping") or {}).get("methods") or []:
            if carrier in (str(method.get("carrier") or ""), str(method.get("id") or "")):
                return _policy_text(method.get("name"), self.language) or carrier
        return carrier

    def _order_field(self, name: str) -> Optional[Any]:
        order = self.order()
        return getattr(order, name) if order is not None else None

    def _product_name(self) -> Optional[str]:
        if self.subject.sku:
            product = self.product()
            return product.name(self.language) if product else None
        order = self.order()
        if order and order.items:
            item = order.items[0]
            return (item.name_en if self.language == "en" else item.name_fa) or item.name_fa or item.name_en or None
        return self.subject.context.get("product")

    def _sku(self) -> Optional[str]:
        if self.subject.sku:
            return self.subject.sku
        order = self.order()
        return order.items[0].sku if order and order.items else self.subject.context.get("sku")

    def _name(self) -> Optional[str]:
        customer = self.customer()
        return (customer.name if customer else None) or self.subject.context.get("name") or None

    def compute(self, name: str) -> Optional[str]:
        s, lang = self.subject, self.language
        if name == "name":
            return self._name() or catalogue_text("journey.fallback_name", lang)
        if name == "first_name":
            full = self._name()
            return full.split()[0] if full and full.split() else catalogue_text("journey.fallback_name", lang)
        if name == "shop":
            return _policy_text((self.policy.get("shop") or {}).get("name"), lang) or None
        if name == "website":
            return self.website() or None
        if name == "order_id":
            return self.digits(s.order_id) if s.order_id else None
        if name == "total":
            total = self._order_field("total")
            total = s.context.get("total") if total is None else total
            return format_toman(total, lang) if total is not None else None
        if name == "order_date":
            return format_date(self._order_field("created_at"), lang) or None
        if name == "delivered_date":
            return format_date(self._order_field("delivered_at"), lang) or None
        if name == "payment_link":
            if s.context.get("payment_url"):
                return str(s.context["payment_url"])
            order = self.order()
            if order is None:
                return None
            template = str((self.policy.get("payment") or {}).get("link_template") or "{website}/pay/{order_id}")
            return template.format(website=self.website(), order_id=order.order_id, total=order.total)
        if name == "tracking_code":
            value = self._order_field(name) or s.context.get(name)
            return str(value) if value else None
        if name == "carrier":
            value = self._order_field(name) or s.context.get(name)
            return self._carrier_name(str(value)) if value else None
        if name == "products":
            order = self.order()
            if not order or not order.items:
                return None
            names = [((i.name_en if lang == "en" else i.name_fa) or i.name_fa or i.sku) for i in order.items]
            return catalogue_text("list.separator", "fa" if lang == "fa" else "en").join(names)
        if name == "product":
            return self._product_name()
        if name in ("product_link", "guide_link"):
            sku = self._sku()
            template = self.settings.product_link if name == "product_link" else self.settings.guide_link
            return template.format(website=self.website(), sku=sku) if sku else None
        if name == "discount_code":
            return self.settings.discount_code
        if name == "discount":
            code = self.settings.discount_code
            found = self._crm_call(f"code:{code}", lambda: self.crm.get_discount_code(code)) if code else None
            if found is None:
                return None
            return (found.description_en if lang == "en" else found.description_fa) or None
        if name == "referral_code":
            cid = s.customer_id
            return self._crm_call("referral", lambda: self.crm.referral_code(cid)) if cid else None
        if name == "referral_reward":
            return _policy_text((self.policy.get("referral") or {}).get("reward"), lang) or None
        if name == "ticket":
            return s.ticket
        if name == "score":
            score = s.context.get("score")
            return self.digits(score) if score is not None else None
        if name == "days_since_order":
            days = s.context.get("days_since")
            return format_number(days, lang) if days is not None else None
        raise MissingValue(name)

    def raw(self, name: str) -> Optional[str]:
        """Language-neutral value for slots and button payloads (ASCII order ids)."""
        if name == "order_id":
            return self.subject.order_id
        return self.get(name)

    def get(self, name: str) -> Optional[str]:
        if name not in self._cache:
            self._cache[name] = self.compute(name)
        return self._cache[name]


def fill(template: str, lookup: Callable[[str], Optional[str]]) -> str:
    """Replace every `{placeholder}`; MissingValue if one has no value. Other braces stay."""

    def replace(match: "re.Match[str]") -> str:
        value = lookup(match.group(1))
        if value is None or value == "":
            raise MissingValue(match.group(1))
        return value

    return PLACEHOLDER.sub(replace, template)


def render(send: Send, values: Values) -> Rendered:
    """The step's text, buttons and expected-answer slots for this subject and language."""
    language = values.language
    text = fill(send.text[language], values.get)
    buttons: List[Dict[str, str]] = []
    for button in send.buttons:
        item = {"title": fill(button.title[language], values.get)}
        if button.url:
            item["url"] = fill(button.url, values.raw)
        else:
            item["payload"] = fill(button.payload or "", values.raw)
        buttons.append(item)
    slots = {name: fill(value, values.raw) for name, value in send.expects.slots.items()}
    return Rendered(text, buttons, slots)


def describe_wait(delay: Optional[dt.timedelta]) -> str:
    """`1h`, `3d`, `30m` for CLI output."""
    if delay is None:
        return ""
    seconds = int(delay.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


__all__ = ["Button", "MissingValue", "Rendered", "Subject", "Values", "fill", "render", "describe_wait"]

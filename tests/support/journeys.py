"""A small shop for journey tests: real database, real channel outputs against fake servers, a clock.

`World` writes CRM rows the way a shop's back office would (SQL), runs the
orchestrator at chosen times (what `hamsafar journeys run-due --now` does) and
reads what went out: SMS from the fake Kavenegar gateway (real HTTP), Telegram
messages from the fake Bot API, web messages from the widget's history table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zlib
from typing import Any, Dict, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bot.crm.models import CustomerRow, FeedbackRow, OrderItemRow, OrderRow, ProductRow, ReviewRow, TicketRow
from bot.crm.sql import SQLCRM
from bot.schema import init_db
from bot.orchestration.definition import load_book
from bot.orchestration.engine import Orchestrator, holdout_of
from bot.orchestration.models import JourneyEntry, JourneyMessage
from bot.orchestration.runner import JourneyRunner, RunStats
from bot.text.identifiers import national_phone

TEHRAN = ZoneInfo("Asia/Tehran")
UTC = dt.timezone.utc
# Wednesday 4 June 2025 (14 Khordad 1404), 10:00 in Tehran
T0 = dt.datetime(2025, 6, 4, 10, 0, tzinfo=TEHRAN).astimezone(UTC)
TELEGRAM_TOKEN = "7000001:AAH-journeys-test-token"


def tehran(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TEHRAN).astimezone(UTC)


def customer_ids(prefix: str, journey: str, holdout: bool, count: int = 1, share: float = 0.1) -> List[str]:
    """Customer ids that fall (or do not fall) in `journey`'s hold-out."""
    found = []
    i = 0
    while len(found) < count:
        candidate = f"{prefix}{i:03d}"
        if holdout_of(journey, candidate, share) == holdout:
            found.append(candidate)
        i += 1
    return found


class Outputs:
    """Real channel outputs for one event loop: SMS to the fake Kavenegar, Telegram to the fake Bot API, web."""

    def __init__(self, sms_url: Optional[str], telegram_url: Optional[str], *, sms_timeout: float = 10.0,
                 telegram_timeout: float = 15.0) -> None:
        from bot.channels.web import WebOutput

        self.outputs: Dict[str, Any] = {"web": WebOutput()}
        if sms_url:
            from bot.channels.sms import SmsOutput
            from bot.channels.sms_gateways.kavenegar import KavenegarGateway
            from tests.fakes.sms_gateways import API_KEY

            self.outputs["sms"] = SmsOutput(KavenegarGateway(API_KEY, sender="10004346", base_url=sms_url,
                                                                     timeout=sms_timeout), backoff=0.01)
        if telegram_url:
            from bot.channels.telegram import TelegramOutput

            self.outputs["telegram"] = TelegramOutput(TELEGRAM_TOKEN, base_url=telegram_url, max_attempts=1,
                                                       timeout=telegram_timeout)

    def get(self, channel: str) -> Any:
        return self.outputs.get(channel)

    async def aclose(self) -> None:
        if "telegram" in self.outputs:
            await self.outputs["telegram"].close()
        if "sms" in self.outputs:
            await self.outputs["sms"].gateway.aclose()


class World:
    def __init__(self, url: str, sms: Any = None, telegram: Any = None, conversation_log: Any = None) -> None:
        self.url = url
        self.engine = init_db(url)
        self.crm = SQLCRM(url)
        self.crm.upsert_discount_codes(self.crm.policy.discount_codes())  # HAMRAH5, the journeys' code
        self.book = load_book()
        self.o = Orchestrator(self.book, url, crm=self.crm, worker="test")
        self.sms, self.telegram = sms, telegram
        self.log = conversation_log
        self._next_order = 300001
        self.sms_timeout, self.telegram_timeout = 10.0, 15.0   # seconds the channels wait for an answer

    # ------------------------------------------------------------------ the shop's data
    def customer(self, customer_id: str, name: str = "علی رضایی", phone: Optional[str] = None, language: str = "fa",
                 created_at: dt.datetime = T0 - dt.timedelta(days=400), timezone: Optional[str] = None) -> str:
        number = phone or f"+98912{zlib.crc32(customer_id.encode()) % 10_000_000:07d}"
        with self.engine.begin() as conn:
            conn.execute(CustomerRow.__table__.insert().values(customer_id=customer_id, name=name, phone=number,
                                                               email=None, language=language, created_at=created_at,
                                                               updated_at=created_at, timezone=timezone))
        return number

    def product(self, sku: str, stock: int = 10, price: int = 2_500_000, name_fa: str = "هدفون سونی",
                name_en: str = "Sony headphones", category: str = "audio") -> None:
        with self.engine.begin() as conn:
            conn.execute(ProductRow.__table__.insert().values(sku=sku, name_fa=name_fa, name_en=name_en, category=category,
                                                              price=price, stock=stock, warranty_months=18,
                                                              search_text=sku.lower(), updated_at=T0))

    def order(self, customer_id: str, status: str, created_at: dt.datetime, *, sku: str = "AUD-SNY-XM5",
              total: int = 2_500_000, order_id: Optional[str] = None, **fields: Any) -> str:
        order_id = order_id or str(self._next_order)
        self._next_order += 1
        with self.engine.begin() as conn:
            if conn.execute(sa.select(ProductRow.__table__.c.sku).where(ProductRow.__table__.c.sku == sku)).first() is None:
                conn.execute(ProductRow.__table__.insert().values(
                    sku=sku, name_fa="هدفون سونی", name_en="Sony headphones", category="audio", price=total, stock=10,
                    warranty_months=18, search_text=sku.lower(), updated_at=created_at))
            conn.execute(OrderRow.__table__.insert().values(order_id=order_id, customer_id=customer_id, status=status,
                                                            created_at=created_at, updated_at=created_at, total=total,
                                                            **fields))
            conn.execute(OrderItemRow.__table__.insert().values(order_id=order_id, position=0, sku=sku, quantity=1,
                                                                unit_price=total))
        return order_id

    def set_order(self, order_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(OrderRow.__table__.update().where(OrderRow.__table__.c.order_id == order_id).values(**values))

    def set_stock(self, sku: str, stock: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(ProductRow.__table__.update().where(ProductRow.__table__.c.sku == sku).values(stock=stock))

    def ticket(self, reference: str, customer_id: str, status: str, created_at: dt.datetime) -> None:
        table = TicketRow.__table__
        with self.engine.begin() as conn:
            if conn.execute(sa.select(table.c.reference).where(table.c.reference == reference)).first():
                conn.execute(table.update().where(table.c.reference == reference).values(status=status))
            else:
                conn.execute(table.insert().values(reference=reference, customer_id=customer_id, subject="Problem",
                                                   description="", category="problem", status=status,
                                                   created_at=created_at))

    def feedback(self, customer_id: str, kind: str, score: int, at: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(FeedbackRow.__table__.insert().values(kind=kind, score=score, customer_id=customer_id,
                                                               comment="", created_at=at))

    def review(self, customer_id: str, sku: str, at: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(ReviewRow.__table__.insert().values(customer_id=customer_id, sku=sku, rating=5, text="",
                                                             created_at=at))

    def link(self, customer_id: str, conversation_id: str, at: dt.datetime = T0 - dt.timedelta(days=30)) -> None:
        """The customer verified themselves in this conversation (bot.identity)."""
        from bot.identity.models import VerifiedIdentity

        with self.engine.begin() as conn:
            conn.execute(VerifiedIdentity.__table__.insert().values(channel="conversation", external_id=conversation_id,
                                                                    customer_id=customer_id, method="test", verified_at=at))

    def web_visit(self, session_id: str, at: dt.datetime) -> None:
        """The visitor wrote in the widget at `at` (so they count as online shortly after)."""
        from bot.channels.models import WebMessage

        with self.engine.begin() as conn:
            conn.execute(WebMessage.__table__.insert().values(session_id=session_id, seq=1, sender="customer", text="سلام",
                                                              created_at=at.replace(tzinfo=None)))

    # ------------------------------------------------------------------ running
    def run(self, now: dt.datetime) -> RunStats:
        async def go() -> RunStats:
            outputs = Outputs(self.sms.url if self.sms else None, self.telegram.base_url if self.telegram else None,
                              sms_timeout=self.sms_timeout, telegram_timeout=self.telegram_timeout)
            try:
                return await JourneyRunner(self.o, outputs, self.log).run_due(now)
            finally:
                await outputs.aclose()

        return asyncio.run(go())

    # ------------------------------------------------------------------ reading
    def sms_to(self, phone: str) -> List[str]:
        return [d["text"] for d in self.sms.delivered if d["to"] in (national_phone(phone), phone)] if self.sms else []

    def entries(self, journey: Optional[str] = None, customer: Optional[str] = None) -> List[Dict[str, Any]]:
        table = JourneyEntry.__table__
        query = sa.select(table).order_by(table.c.id)
        if journey:
            query = query.where(table.c.journey == journey)
        if customer:
            query = query.where(table.c.customer_key == customer)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def entry(self, journey: str, customer: str) -> Dict[str, Any]:
        found = self.entries(journey, customer)
        assert len(found) == 1, (journey, customer, found)
        return found[0]

    def messages(self, journey: Optional[str] = None) -> List[Dict[str, Any]]:
        table = JourneyMessage.__table__
        query = sa.select(table).order_by(table.c.id)
        if journey:
            query = query.where(table.c.journey == journey)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def touchpoints(self, journey: str, customer: Optional[str] = None) -> List[Dict[str, Any]]:
        from bot.touchpoints.models import Touchpoint

        table = Touchpoint.__table__
        query = sa.select(table).where(table.c.journey == journey).order_by(table.c.occurred_at, table.c.id)
        if customer:
            query = query.where(table.c.customer_id == customer)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def sent_times(self) -> List[dt.datetime]:
        return [m["sent_at"] for m in self.messages() if m["status"] == "sent"]


def in_window(moment: dt.datetime) -> bool:
    local = moment.astimezone(TEHRAN)
    return local.weekday() != 4 and dt.time(9) <= local.time() < dt.time(21)


def actions(rows: Sequence[Dict[str, Any]]) -> List[Tuple[Any, ...]]:
    """(actions, journey_step, channel) of journey touchpoints, for compact asserts."""
    return [(tuple(r["actions"]), r["journey_step"], r["channel"]) for r in rows]

"""Tables of the channels: consent, SMS log, inbound de-duplication, web history,
Bot-API callback ids, wallet payments received through a messenger (Bale).

Documented in docs/channels.md. `bot.schema` lists this module, so `bot.schema.init_db`
creates these tables with the rest; channel code gets a ready engine or session from
`bot.schema.engine` / `bot.schema.session`.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from bot.db import Base


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class ChannelConsent(Base):
    """Opt-out state of one address on one channel (an SMS phone, a Telegram chat, a web session)."""

    __tablename__ = "channel_consent"

    channel = sa.Column(sa.String(20), primary_key=True)
    address = sa.Column(sa.String(200), primary_key=True)
    opted_out = sa.Column(sa.Boolean, nullable=False, default=False)
    source = sa.Column(sa.String(40), nullable=True)  # keyword, blocked, agent, api
    confirmation_sent = sa.Column(sa.Boolean, nullable=False, default=False)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class SmsMessage(Base):
    """Every outbound SMS, keyed by an idempotency key, with its cost estimate."""

    __tablename__ = "sms_messages"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    idempotency_key = sa.Column(sa.String(200), nullable=False, unique=True)
    gateway = sa.Column(sa.String(20), nullable=False)
    phone = sa.Column(sa.String(20), nullable=False, index=True)
    text = sa.Column(sa.Text, nullable=False)
    kind = sa.Column(sa.String(30), nullable=False, default="message")
    # pending -> sending -> sent | failed | blocked ; sending means "outcome unknown"
    status = sa.Column(sa.String(12), nullable=False, default="pending")
    gateway_message_id = sa.Column(sa.String(100), nullable=True)
    encoding = sa.Column(sa.String(6), nullable=False)  # gsm7 | ucs2
    segments = sa.Column(sa.Integer, nullable=False)
    cost = sa.Column(sa.Float, nullable=True)
    currency = sa.Column(sa.String(8), nullable=True)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    error = sa.Column(sa.Text, nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class InboundSeen(Base):
    """Inbound ids already handled (Telegram update_id, Twilio MessageSid, Kavenegar messageid)."""

    __tablename__ = "channel_inbound_seen"

    channel = sa.Column(sa.String(20), primary_key=True)
    external_id = sa.Column(sa.String(100), primary_key=True)
    seen_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)


class WebMessage(Base):
    """Website widget history: one row per message, numbered per session."""

    __tablename__ = "web_messages"
    __table_args__ = (sa.UniqueConstraint("session_id", "seq", name="uq_web_messages_session_seq"),)

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    session_id = sa.Column(sa.String(64), nullable=False, index=True)
    seq = sa.Column(sa.Integer, nullable=False)
    sender = sa.Column(sa.String(10), nullable=False)  # customer | bot | agent | system
    text = sa.Column(sa.Text, nullable=False, default="")
    buttons = sa.Column(sa.JSON, nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class TelegramCallback(Base):
    """Button payloads longer than the Bot API's 64-byte callback_data, by short id (Telegram and Bale)."""

    __tablename__ = "telegram_callbacks"

    short_id = sa.Column(sa.String(24), primary_key=True)
    payload = sa.Column(sa.Text, nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class MessengerPayment(Base):
    """A wallet payment a messenger reported (Bale `successful_payment`), once per charge.

    The CRM interface has no "mark paid", so this table is where the shop finds
    orders paid inside the messenger (docs/channels.md).
    """

    __tablename__ = "messenger_payments"

    channel = sa.Column(sa.String(20), primary_key=True)
    charge_id = sa.Column(sa.String(200), primary_key=True)
    provider_charge_id = sa.Column(sa.String(200), nullable=True)
    order_id = sa.Column(sa.String(64), nullable=False, index=True)
    conversation_id = sa.Column(sa.String(200), nullable=False, index=True)
    amount = sa.Column(sa.BigInteger, nullable=False)  # in the smallest unit of `currency` (IRR: Rial)
    currency = sa.Column(sa.String(8), nullable=False)
    paid_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)



class WebSession(Base):
    """One bearer token of the website widget: which conversation it opens, and until when.

    Only a SHA-256 of the token is stored. A rotated, logged-out, expired or replaced
    token keeps its row (with `ended_at`) so it can never be claimed again
    (bot/channels/web/_sessions.py; docs/web_sessions.md).
    """

    __tablename__ = "web_sessions"

    token_hash = sa.Column(sa.String(64), primary_key=True)
    conversation = sa.Column(sa.String(64), nullable=False, index=True)
    created_at = sa.Column(sa.DateTime, nullable=False)       # the conversation's start (kept on rotation)
    last_seen_at = sa.Column(sa.DateTime, nullable=False)     # the customer's last message (idle clock)
    verified_since = sa.Column(sa.DateTime, nullable=True)    # when this conversation became verified
    ended_at = sa.Column(sa.DateTime, nullable=True, index=True)
    end_reason = sa.Column(sa.String(12), nullable=True)      # rotated | logout | expired | replaced

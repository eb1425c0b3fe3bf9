"""Tables of customer verification (documented in docs/crm.md, "Identity")."""

from __future__ import annotations

import sqlalchemy as sa

from bot.crm.models import UTCDateTime
from bot.db import Base


class VerifiedIdentity(Base):
    """A conversation or channel identity proven to belong to a CRM customer.

    `channel` is `conversation` (external_id = Rasa sender id) or a channel name
    (`telegram` with the Telegram user id, `bale` with the Bale user id, `web` with
    the site's user id, ...).
    """

    __tablename__ = "verified_identities"
    channel = sa.Column(sa.String(32), primary_key=True)
    external_id = sa.Column(sa.String(200), primary_key=True)
    customer_id = sa.Column(sa.String(64), nullable=False, index=True)
    method = sa.Column(sa.String(20), nullable=False)      # telegram_contact | bale_contact | sms_code | sms_sender | web_signature | carried
    verified_at = sa.Column(UTCDateTime, nullable=False)


class OneTimeCode(Base):
    """An SMS one-time code challenge; only a keyed hash of the code is stored."""

    __tablename__ = "otp_codes"
    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    conversation_id = sa.Column(sa.String(200), nullable=False, index=True)
    phone = sa.Column(sa.String(20), nullable=False, index=True)           # E.164
    customer_id = sa.Column(sa.String(64))                                 # null: the phone is not in the CRM
    salt = sa.Column(sa.String(32), nullable=False)
    code_hash = sa.Column(sa.String(64), nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False, index=True)
    expires_at = sa.Column(UTCDateTime, nullable=False)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    status = sa.Column(sa.String(12), nullable=False, default="open")      # open | used | locked | replaced


class CustomerPreference(Base):
    """A verified customer's explicit choices, kept by Hamsafar for every CRM backend.

    `language` is set when the customer asks for a language (switch_language) on
    any channel, so their next conversation — on any channel — starts in it. It
    lives here, not in the CRM, because WooCommerce and REST shops have no field
    for it; the CRM's `customers.language` is the default until the customer chooses.
    """

    __tablename__ = "customer_preferences"
    customer_id = sa.Column(sa.String(64), primary_key=True)
    language = sa.Column(sa.String(8), nullable=True)       # fa | en
    updated_at = sa.Column(UTCDateTime, nullable=False)

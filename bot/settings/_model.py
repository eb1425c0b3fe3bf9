"""Every environment variable Hamsafar reads, as one typed pydantic model.

A field `name` is the variable `HAMSAFAR_<NAME>`. Each field carries a one-line
description, its group in docs/settings.md, and whether its value is a secret
(masked whole) or a URL (its password masked). Values are stripped, and an empty
value counts as unset, except where a field says `empty_is_value` (an empty
`HAMSAFAR_HANDOFF_DAYS_OFF` means "no day off").
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pydantic import BaseSettings, Field, ValidationError, validator
from pydantic.fields import ModelField

PREFIX = "HAMSAFAR_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

# Groups of docs/settings.md and `hamsafar config`, in this order.
CORE, SECURITY, CRM, JOURNEYS, HANDOFF, TOUCHPOINTS, TELEGRAM, BALE, SMS, WEB = (
    "Processes and storage", "Security", "CRM backend", "Proactive journeys", "Handoff to agents",
    "Touchpoints", "Telegram", "Bale", "SMS", "Web widget")


def _setting(default: Any, description: str, group: str, *, secret: bool = False, url: bool = False,
             choices: Tuple[str, ...] = (), doc_default: Optional[str] = None, empty_is_value: bool = False) -> Any:
    """A field with what the table and `hamsafar config` need: a description, a group, how to mask it."""
    return Field(default, description=description, group=group, secret=secret, url=url, choices=choices,
                 doc_default=doc_default, empty_is_value=empty_is_value)


class SettingsError(ValueError):
    """A variable's value cannot be used; the message names the variable (never a secret's value)."""


def env_name(field: ModelField) -> str:
    """`HAMSAFAR_ACTION_THREADS` for the field `action_threads`."""
    return PREFIX + field.name.upper()


# The variables `Settings()` reads: os.environ, or the snapshot `build` was given.
_reading: contextvars.ContextVar[Optional[Mapping[str, str]]] = contextvars.ContextVar("reading", default=None)


def _from_environment(settings: BaseSettings) -> Dict[str, Any]:
    """The set variables, stripped; empty ones left out unless the field says empty is a value."""
    environ = _reading.get()
    environ = os.environ if environ is None else environ
    values: Dict[str, Any] = {}
    for field in settings.__fields__.values():
        raw = environ.get(env_name(field))
        if raw is None:
            continue
        value = raw.strip()
        if value or field.field_info.extra.get("empty_is_value"):
            values[field.name] = value
    return values


class Settings(BaseSettings):
    """Hamsafar's configuration as read from the environment now; build it with
    `bot.settings.current()`. Defaults work on a fresh clone: SQLite in `.hamsafar/`, one process."""

    # -- processes and storage
    state_dir: Path = _setting(PROJECT_ROOT / ".hamsafar", "where the SQLite file, the blank spaCy pipeline, "
                               "spools and pseudonym.key live (read once when a process starts)", CORE,
                               doc_default="`.hamsafar/` in the project")
    database_url: Optional[str] = _setting(None, "SQLAlchemy URL of our data (CRM, touchpoints, handoff) and Rasa's "
                                           "tracker store, e.g. postgresql://user@host:5432/hamsafar", CORE, url=True,
                                           doc_default="unset: SQLite `hamsafar.db` in the state directory")
    redis_url: Optional[str] = _setting(None, "Redis for Rasa's lock store when several Rasa processes serve one bot, "
                                        "e.g. redis://127.0.0.1:6379/0", CORE, url=True,
                                        doc_default="unset: one process")
    rabbitmq_url: Optional[str] = _setting(None, "RabbitMQ for Rasa's event broker; the touchpoint consumer writes the "
                                           "touchpoints (required by `hamsafar run --workers N`)", CORE, url=True,
                                           doc_default="unset: touchpoints written in-process")
    rabbitmq_queue: str = _setting("hamsafar_touchpoints", "durable queue of the touchpoint consumer; its exchange "
                                   "is `<queue>.events`", CORE)
    host: str = _setting("127.0.0.1", "interface of the Rasa server (`hamsafar run --host`)", CORE)
    port: int = _setting(5005, "port of the Rasa server (`hamsafar run --port`, `hamsafar chat`)", CORE)
    actions_host: str = _setting("127.0.0.1", "interface of the action server", CORE)
    actions_port: int = _setting(5055, "port of the action server", CORE)
    actions_url: Optional[str] = _setting(None, "the action server's webhook for Rasa (endpoints.yml); "
                                          "`hamsafar run` sets it", CORE, url=True)
    action_threads: int = _setting(8, "custom actions the action server runs at once, each in a worker thread "
                                   "(at least 1)", CORE)
    endpoints: str = _setting("endpoints.yml", "Rasa endpoints file the servers are started with", CORE)
    setup_started: Optional[float] = _setting(None, "Unix time set-up began (set by scripts/bootstrap.sh, for the "
                                              "set-up time `hamsafar run` prints)", CORE,
                                              doc_default="unset: now")

    # -- security
    rest_token: Optional[str] = _setting(None, "when set, the REST channel requires `Authorization: Bearer <token>`; "
                                         "`hamsafar run` refuses a host off loopback without it", SECURITY, secret=True)
    allow_open_rest: bool = _setting(False, "listen off loopback without a REST token all the same (only behind "
                                     "something that authenticates REST callers)", SECURITY)
    action_token: Optional[str] = _setting(None, "shared secret between the Rasa server and the action server",
                                           SECURITY, secret=True, doc_default="unset: random per `hamsafar run`")
    pseudonym_key: Optional[str] = _setting(None, "HMAC key of the conversation references of SMS numbers; set the "
                                            "same value everywhere when processes share no state directory",
                                            SECURITY, secret=True,
                                            doc_default="unset: a random key in `<state dir>/pseudonym.key`")
    otp_pepper: Optional[str] = _setting(None, "key of the one-time-code hashes; required with any SMS gateway",
                                         SECURITY, secret=True, doc_default="unset: the web identity secret")
    web_identity_secret: Optional[str] = _setting(None, "HMAC secret of the shop's signed web identity",
                                                  SECURITY, secret=True)
    demo_codes: Optional[str] = _setting(None, "`log`: print one-time codes and proactive SMS to the terminal when no "
                                         "gateway is set (demo only)", SECURITY)

    # -- CRM backend
    crm_backend: str = _setting("sql", "`sql`, `woocommerce` (or `woo`) or `rest`", CRM,
                                choices=("sql", "woocommerce", "woo", "rest"))
    crm_timeout: float = _setting(5.0, "seconds per CRM HTTP request", CRM)
    crm_retries: int = _setting(2, "retries of idempotent CRM HTTP requests", CRM)
    crm_rest_url: Optional[str] = _setting(None, "base URL of a service implementing docs/crm_rest_contract.md",
                                           CRM, url=True)
    crm_rest_token: Optional[str] = _setting(None, "bearer token for that service", CRM, secret=True)
    woocommerce_url: Optional[str] = _setting(None, "shop base URL, e.g. https://shop.example.ir", CRM, url=True)
    woocommerce_key: Optional[str] = _setting(None, "WooCommerce REST API consumer key", CRM, secret=True)
    woocommerce_secret: Optional[str] = _setting(None, "WooCommerce REST API consumer secret", CRM, secret=True)

    # -- proactive journeys
    journeys: bool = _setting(True, "`off`: no background journey runner in the server", JOURNEYS)
    journeys_interval: float = _setting(30.0, "seconds between journey runner passes (at least 1)", JOURNEYS)
    orchestration_file: Optional[Path] = _setting(None, "the journeys file", JOURNEYS,
                                                  doc_default="`orchestration.yml` in the project")
    woocommerce_webhook_secret: Optional[str] = _setting(None, "secret of WooCommerce's webhooks (unset: they get 503)",
                                                         JOURNEYS, secret=True)
    journey_events_secret: Optional[str] = _setting(None, "secret of the REST backend's events (unset: they get 503)",
                                                    JOURNEYS, secret=True)

    # -- handoff to agents
    handoff_timezone: str = _setting("Asia/Tehran", "time zone of the agents' working hours", HANDOFF)
    handoff_hours: str = _setting("09:00-18:00", "agents' hours each working day, `HH:MM-HH:MM`; `always` = 24/7",
                                  HANDOFF)
    handoff_days_off: str = _setting("fri", "comma-separated days off (sat,sun,mon,tue,wed,thu,fri); empty or `none` "
                                     "= no day off", HANDOFF, empty_is_value=True)
    handoff_claim_timeout: float = _setting(300.0, "seconds a conversation waits for an agent before apology + ticket",
                                            HANDOFF)
    handoff_after_fallbacks: Optional[int] = _setting(None, "hand off after this many not-understood messages in a "
                                                      "row (0 = never)", HANDOFF,
                                                      doc_default="unset: the policy's `fallbacks_in_a_row` (2)")
    handoff_on_frustration: bool = _setting(True, "hand off when a message is detected as frustrated", HANDOFF)
    handoff_max_requests_per_day: int = _setting(5, "handoffs one conversation or customer may start in 24 hours "
                                                 "(at least 1)", HANDOFF)
    handoff_max_waiting: int = _setting(100, "conversations waiting for an agent at most (at least 1)", HANDOFF)
    handoff_max_after_hours_tickets: int = _setting(200, "after-hours CRM tickets in 24 hours, all conversations",
                                                    HANDOFF)
    console_secure_cookie: bool = _setting(False, "add `Secure` to the agent console's cookie (set behind HTTPS)",
                                           HANDOFF)

    # -- touchpoints
    touchpoints_raw_text: bool = _setting(False, "store customers' text unmasked (debugging the NLU only)",
                                          TOUCHPOINTS)
    text_retention_days: int = _setting(180, "default of `hamsafar touchpoints drop-old-text --days`", TOUCHPOINTS)

    # -- Telegram
    telegram_token: Optional[str] = _setting(None, "bot token from @BotFather (unset: channel off)", TELEGRAM,
                                             secret=True)
    telegram_webhook_secret: Optional[str] = _setting(None, "`secret_token` given to setWebhook, checked on every "
                                                      "webhook call", TELEGRAM, secret=True)
    telegram_webhook_url: Optional[str] = _setting(None, "public https://…/webhooks/hamsafar_telegram/webhook, set at "
                                                   "start if given", TELEGRAM, url=True)
    telegram_mode: str = _setting("webhook", "`webhook` or `polling`", TELEGRAM, choices=("webhook", "polling"))
    telegram_api_base_url: Optional[str] = _setting(None, "Bot API base (tests: a local fake)", TELEGRAM, url=True,
                                                    doc_default="unset: https://api.telegram.org/bot")

    # -- Bale
    bale_token: Optional[str] = _setting(None, "bot token from Bale's @botfather (unset: channel off)", BALE,
                                         secret=True)
    bale_webhook_secret: Optional[str] = _setting(None, "random secret in the webhook address, checked on every "
                                                  "webhook call", BALE, secret=True)
    bale_webhook_url: Optional[str] = _setting(None, "public https://…/webhooks/hamsafar_bale/webhook without the "
                                               "secret", BALE, url=True)
    bale_mode: str = _setting("webhook", "`webhook` or `polling`", BALE, choices=("webhook", "polling"))
    bale_api_base_url: Optional[str] = _setting(None, "Bot API base (tests: a local fake)", BALE, url=True,
                                                doc_default="unset: https://tapi.bale.ai/bot")
    bale_payments: str = _setting("off", "`wallet`: offer Bale wallet invoices for orders (`off`, `link`, `none`: "
                                  "the payment link only)", BALE, choices=("off", "link", "none", "wallet"))
    bale_provider_token: Optional[str] = _setting(None, "the shop's card or wallet number invoices are paid into",
                                                  BALE, secret=True)

    # -- SMS
    sms_gateway: Optional[str] = _setting(None, "outbound gateway, `kavenegar` or `twilio`", SMS,
                                          choices=("kavenegar", "twilio"), doc_default="unset: the configured one")
    kavenegar_api_key: Optional[str] = _setting(None, "Kavenegar API key", SMS, secret=True)
    kavenegar_sender: Optional[str] = _setting(None, "Kavenegar sender line", SMS)
    kavenegar_inbound_secret: Optional[str] = _setting(None, "random secret in Kavenegar's receive URL", SMS,
                                                       secret=True)
    kavenegar_base_url: Optional[str] = _setting(None, "Kavenegar API base (tests: a local fake)", SMS, url=True)
    twilio_account_sid: Optional[str] = _setting(None, "Twilio account SID", SMS)
    twilio_auth_token: Optional[str] = _setting(None, "Twilio auth token", SMS, secret=True)
    twilio_from: Optional[str] = _setting(None, "Twilio sender number", SMS)
    twilio_messaging_service_sid: Optional[str] = _setting(None, "Twilio messaging service (instead of a sender number)",
                                                           SMS)
    twilio_base_url: Optional[str] = _setting(None, "Twilio API base (tests: a local fake)", SMS, url=True)
    twilio_webhook_url: Optional[str] = _setting(None, "the exact public URL configured in Twilio (for the signature "
                                                 "behind a proxy)", SMS, url=True)
    sms_cost_gsm7: Optional[float] = _setting(None, "cost per GSM-7 segment, for the estimate", SMS)
    sms_cost_ucs2: Optional[float] = _setting(None, "cost per UCS-2 (Persian) segment, for the estimate", SMS)
    sms_currency: Optional[str] = _setting(None, "currency of those costs", SMS)

    # -- web widget
    web_allowed_origins: Optional[str] = _setting(None, "comma-separated origins of the shop's pages allowed to call "
                                                  "the widget API (no `*`)", WEB)
    web_verified_idle_minutes: float = _setting(30.0, "minutes a verified web session may stay idle", WEB)
    web_verified_max_hours: float = _setting(12.0, "hours a web session stays verified at most", WEB)
    web_session_max_days: float = _setting(30.0, "days a web session lives at most", WEB)

    class Config:
        allow_mutation = False   # one object may be shared; nobody changes it behind the others' backs

        @classmethod
        def customise_sources(cls, init_settings: Any, env_settings: Any, file_secret_settings: Any) -> Tuple[Any, ...]:
            return init_settings, _from_environment

    @validator("*", pre=True)
    def _one_of_the_choices(cls, value: Any, field: ModelField) -> Any:  # noqa: N805 - pydantic passes the class
        choices = field.field_info.extra.get("choices")
        if choices and isinstance(value, str):
            value = value.lower()
            if value not in choices:
                raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    @validator("handoff_timezone")
    def _known_time_zone(cls, value: str) -> str:  # noqa: N805
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be a time zone such as Asia/Tehran") from None
        return value

    @validator("handoff_hours")
    def _hours_or_always(cls, value: str) -> str:  # noqa: N805
        if value.lower() in ("always", "24/7", "24x7"):
            return value
        match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?-(\d{1,2})(?::(\d{2}))?", value)
        try:
            if not match:
                raise ValueError
            dt.time(int(match[1]), int(match[2] or 0))
            dt.time(int(match[3]), int(match[4] or 0))
        except ValueError:
            raise ValueError("must be HH:MM-HH:MM (e.g. 09:00-18:00) or always") from None
        return value


FIELDS: Dict[str, ModelField] = {env_name(field): field for field in Settings.__fields__.values()}

# What pydantic's error types mean, said the way an operator reads it.
_EXPECTED = {
    "type_error.integer": "must be an integer",
    "type_error.float": "must be a number",
    "type_error.bool": "must be true or false (1/0, yes/no, on/off)",
    "type_error.path": "must be a path",
}


def snapshot() -> Tuple[Tuple[str, str], ...]:
    """The `HAMSAFAR_*` variables now: what `build` depends on, cheap to compare (~30 µs)."""
    return tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith(PREFIX)))


@functools.lru_cache(maxsize=32)
def build(variables: Tuple[Tuple[str, str], ...]) -> Settings:
    """Settings from `variables` (a `snapshot()`); SettingsError names every variable that is wrong.

    Cached per snapshot: building validates ~80 fields (~1.4 ms), and some settings are read
    for every message. Safe because `Settings` is immutable and depends on nothing else."""
    environ = dict(variables)
    token = _reading.set(environ)
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError("; ".join(_explain(error, environ))) from None
    finally:
        _reading.reset(token)


def _explain(error: ValidationError, environ: Mapping[str, str]) -> List[str]:
    """`HAMSAFAR_ACTION_THREADS must be an integer, got 'abc'` per wrong field (secrets not echoed)."""
    lines = []
    for problem in error.errors():
        name = PREFIX + str(problem["loc"][0]).upper()
        field = FIELDS.get(name)
        shown = "'****'" if field is not None and field.field_info.extra.get("secret") else \
            repr(environ.get(name, "").strip())
        lines.append(f"{name} {_EXPECTED.get(problem['type'], problem['msg'])}, got {shown}")
    return lines

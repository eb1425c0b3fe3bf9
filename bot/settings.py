"""Where Hamsafar finds its files and services.

Everything configurable comes from the environment (documented in README.md),
with defaults that work on a fresh clone: SQLite in `.hamsafar/`, one process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("HAMSAFAR_STATE_DIR", PROJECT_ROOT / ".hamsafar"))
DEMO_SHOP_DIR = PROJECT_ROOT / "demo_shop"
JOURNEY_FILE = PROJECT_ROOT / "journey.yml"
SHOP_POLICY_FILE = PROJECT_ROOT / "shop_policy.yml"


def database_url() -> str:
    """SQLAlchemy URL of our data (CRM, touchpoints, handoff) and Rasa's tracker store."""
    url = os.environ.get("HAMSAFAR_DATABASE_URL", "").strip()
    if url:
        return url
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{STATE_DIR / 'hamsafar.db'}"


def redis_url() -> Optional[str]:
    """Redis URL for Rasa's lock store; unset means a single server process."""
    return os.environ.get("HAMSAFAR_REDIS_URL", "").strip() or None


def env_secret(name: str) -> Optional[str]:
    """A channel secret from the environment; empty counts as unset."""
    return os.environ.get(name, "").strip() or None


def rabbitmq_url() -> Optional[str]:
    """RabbitMQ (amqp://user:password@host:5672/vhost) for Rasa's pika event broker; unset means
    touchpoints are written inside the Rasa process (one process). Set, a separate consumer
    (`python -m bot.touchpoints.consumer`) writes them."""
    return os.environ.get("HAMSAFAR_RABBITMQ_URL", "").strip() or None


def rabbitmq_queue() -> str:
    """The durable queue the touchpoint consumer reads; its fanout exchange is `<queue>.events`."""
    return os.environ.get("HAMSAFAR_RABBITMQ_QUEUE", "").strip() or "hamsafar_touchpoints"

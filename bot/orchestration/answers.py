"""The customer's "no" to a proactive message: that journey stops for them, and it is on record.

A proactive message is written into the customer's conversation with the
entry it came from (`hamsafar_journey.entry_id`, docs/orchestration.md). When
the customer answers it with "no thanks", "not interested", «نه ممنون» —
or an opt-out word («لغو», STOP) — the dialogue (actions/proactive.py) calls
`decline`: every active entry of that journey for that customer ends with the
reason `declined` (the exit touchpoint says so, the journey figures count it)
and nothing more of that journey is sent. The opt-out word also opts the chat
out of every proactive message on its channel (`bot.channels.consent`), as an
SMS «لغو ۱۱» already does before the dialogue sees it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import List, Optional

import sqlalchemy as sa

from bot import schema
from bot.orchestration.engine import E, end_entry, utcnow

logger = logging.getLogger(__name__)

DECLINED = "declined"


def decline(entry_id: int, database_url: Optional[str] = None, now: Optional[dt.datetime] = None) -> List[int]:
    """End the customer's active entries of the journey entry `entry_id` belongs to; the ids ended.

    Each entry ends by compare-and-set, so a runner working on it meanwhile
    cannot send its next step afterwards (its own write fails)."""
    now = now or utcnow()
    engine = schema.engine(database_url)
    ended: List[int] = []
    with engine.begin() as conn:
        origin = conn.execute(sa.select(E.c.journey, E.c.customer_key).where(E.c.id == int(entry_id))).first()
        if origin is None:
            return ended
        rows = conn.execute(sa.select(E).where(E.c.journey == origin.journey, E.c.customer_key == origin.customer_key,
                                               E.c.status == "active")).mappings().all()
        for row in rows:
            if end_entry(conn, dict(row), DECLINED, now):
                ended.append(int(row["id"]))
    if ended:
        logger.info("journeys: %s declined by %s (entries %s ended)", origin.journey, origin.customer_key, ended)
    return ended

"""Long-poll `getUpdates` for a Bot-API channel that has no public address.

Handles every update like the webhook does (same de-duplication, same per-chat
order). Removes a configured webhook first (the Bot API refuses getUpdates while
one is set). Bale documents `offset` and `limit` but not long polling, so after
an empty answer that came back at once the loop pauses `platform.poll_pause`
seconds instead of asking again immediately.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, Optional, TYPE_CHECKING

from bot.channels.botapi.pacing import retry_seconds

if TYPE_CHECKING:
    from bot.channels.botapi.input import BotApiInput, OnNewMessage

logger = logging.getLogger(__name__)


async def run_polling(
    channel: "BotApiInput",
    on_new_message: "OnNewMessage",
    *,
    stop_event: Optional[asyncio.Event] = None,
    poll_timeout: int = 25,
) -> None:
    """Long-poll getUpdates and handle every update like the webhook does; runs until `stop_event` is set."""
    from telegram.error import Conflict, NetworkError, RetryAfter

    platform = channel.platform
    assert channel.output is not None, f"{platform.title} token missing"
    stop_event = stop_event or asyncio.Event()
    bot = await channel.output.bot()
    try:
        await bot.delete_webhook(drop_pending_updates=False)
    except Exception as error:
        logger.warning("%s: deleteWebhook failed: %s", platform.title, error)
    offset: Optional[int] = None
    backoff = 1.0
    options: Dict[str, Any] = {}
    if platform.allowed_updates is not None:
        options["allowed_updates"] = list(platform.allowed_updates)
    logger.info("%s: polling for updates", platform.title)
    while not stop_event.is_set():
        asked = time.monotonic()
        try:
            updates = await bot.get_updates(
                offset=offset, timeout=poll_timeout, read_timeout=poll_timeout + 10, **options,
            )
            backoff = 1.0
        except RetryAfter as error:
            await asyncio.sleep(retry_seconds(error))
            continue
        except Conflict as error:
            logger.error("%s: another poller or a webhook is active: %s", platform.title, error)
            await asyncio.sleep(5)
            continue
        except NetworkError as error:
            logger.warning("%s: polling network error: %s", platform.title, error)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30)
            continue
        for update in updates:
            offset = update.update_id + 1
            if channel.is_new_update(update.update_id):
                channel.spawn(channel.handle_update(update.to_dict(), on_new_message))
        if not updates and platform.poll_pause and time.monotonic() - asked < platform.poll_pause:
            try:  # the server answered at once: no long polling here, so do not spin
                await asyncio.wait_for(stop_event.wait(), timeout=platform.poll_pause)
            except asyncio.TimeoutError:
                pass

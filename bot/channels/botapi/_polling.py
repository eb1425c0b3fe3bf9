"""Long-poll `getUpdates` for a Bot-API channel that has no public address.

Handles every update like the webhook does (same de-duplication, same per-chat
order). An update is confirmed (the next `offset`) only once it was processed: if
one could not be, the next getUpdates starts at it, after a pause, and the
updates after it that were processed come back as duplicates. Removes a configured webhook first (the Bot API refuses getUpdates while
one is set). Bale documents `offset` and `limit` but not long polling, so after
an empty answer that came back at once the loop pauses `platform.poll_pause`
seconds instead of asking again immediately.

Updates are fetched as plain JSON (`Bot.do_api_request`), not as python-telegram-bot
objects: `get_updates` builds every object of the batch at once, so one update with
a field Bale leaves out (e.g. `callback_query.chat_instance`) would fail the whole
batch and stop the loop; here each update is completed and handled on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from typing import Any, Dict, List, Optional, Tuple, TYPE_CHECKING

from telegram.warnings import PTBUserWarning

from ._pacing import retry_seconds

if TYPE_CHECKING:
    from ._input import BotApiInput, OnNewMessage

logger = logging.getLogger(__package__)  # "bot.channels.botapi": one logger for the channel

# do_api_request advises Bot.get_updates for this endpoint; we want the raw JSON (see above)
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)


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
    logger.info("%s: polling for updates", platform.title)
    while not stop_event.is_set():
        asked = time.monotonic()
        request: Dict[str, Any] = {"offset": offset, "timeout": poll_timeout}
        if platform.allowed_updates is not None:
            request["allowed_updates"] = list(platform.allowed_updates)
        try:
            updates = await bot.do_api_request("getUpdates", api_kwargs=request, read_timeout=poll_timeout + 10)
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
        except Exception:  # anything else (a malformed answer): log, wait, keep polling
            logger.exception("%s: getUpdates failed", platform.title)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30)
            continue
        batch = updates if isinstance(updates, list) else []
        offset, refused = await _process_batch(channel, on_new_message, batch, offset)
        if refused:  # not confirmed: getUpdates returns it again; later ones come back as duplicates
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30)
            continue
        if not updates and platform.poll_pause and time.monotonic() - asked < platform.poll_pause:
            try:  # the server answered at once: no long polling here, so do not spin
                await asyncio.wait_for(stop_event.wait(), timeout=platform.poll_pause)
            except asyncio.TimeoutError:
                pass


async def _process_batch(channel: "BotApiInput", on_new_message: "OnNewMessage", updates: List[Any],
                         offset: Optional[int]) -> Tuple[Optional[int], bool]:
    """Process one getUpdates answer (chats side by side, each in order); the next offset and whether one was refused."""
    ids: List[int] = []
    jobs = []
    for update in updates:
        try:
            update_id = int(update["update_id"])
        except (TypeError, KeyError, ValueError):
            logger.warning("%s: skipped an update without an update_id", channel.platform.title)
            continue
        ids.append(update_id)
        jobs.append(channel.handle_update(update, on_new_message))
    done = await asyncio.gather(*jobs)
    refused = [update_id for update_id, ok in zip(ids, done) if not ok]
    if refused:
        return min(refused), True
    return (max(ids) + 1 if ids else offset), False

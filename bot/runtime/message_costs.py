"""Per-message work Rasa repeats for nothing, done once (issue 16; found with py-spy under load).

A profile of the Rasa server at saturation (docs/performance.md) showed two costs that buy
nothing on a message's way:

* **A new HTTP connection to the action server for every action call.** Rasa's
  `EndpointConfig.request` opens an aiohttp `ClientSession` per request and closes it after,
  so each custom action (`action_validate_slot_mappings` on every customer message, then the
  action itself) paid a TCP connect on both sides. `kept_alive_request` sends the same
  request, with the same headers, token, timeout, compression and error handling, over one
  session per event loop whose connections are kept alive for `KEEPALIVE_S` — below Sanic's
  5 s keep-alive on the action server, so the client never reuses a connection the server is
  closing. It has no cookie jar: every request stays as stateless as Rasa's own. Its JSON
  bodies (the whole tracker and domain, ~150 KB, on every call: 7 % of the server's CPU in
  `json.dumps`) are written by ujson (a Rasa and Sanic dependency, about twice as fast here),
  which reads back to the same value; anything ujson refuses goes to `json.dumps` as before.
* **A walk over every `Event` subclass for every event read.** `Event.resolve_by_type` scans
  `all_subclasses(Event)` (about 40 classes, through `inspect.isabstract`) on every
  deserialised event: 5 % of the server's CPU reading trackers. `resolve_by_type` remembers
  the class found for each type name; names it does not find go to Rasa's own code (its
  default, `topic`, and its error), and the answer is the class Rasa's scan returns first.

* **A call to the action server whose answer is known.** When a form is activated later in a
  turn, Rasa runs slot extraction again and calls `action_validate_slot_mappings` with the whole
  tracker and domain (after replaying the tracker once more); our action answers it with nothing,
  since the message was read already (`bot.dialogue.moves.read_already`). The Rasa server
  applies the same rule and keeps the slots Rasa's own mappings extracted — what Rasa does with
  an empty answer — without the call: one call of the four of a message that opens a form.

`install()` applies all three (idempotent); `close_sessions()` closes the kept-alive sessions when
the server stops (`bot.runtime.rasa_server`).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any, Dict, List, Optional, Text, Type

KEEPALIVE_S = 2.0

_sessions: Dict[asyncio.AbstractEventLoop, Any] = {}
_event_types: Dict[str, type] = {}
_rasa_resolve_by_type: Any = None
_rasa_execute_validation_action: Any = None


def _dumps(value: Any) -> str:
    """JSON for a request body: ujson, or the standard library for whatever ujson refuses."""
    import ujson

    try:
        return ujson.dumps(value)
    except (TypeError, ValueError, OverflowError):
        return json.dumps(value)


def _session() -> Any:
    """The kept-alive session of the running loop (sessions of closed loops are dropped)."""
    import aiohttp

    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        for other in [other for other in _sessions if other.is_closed()]:
            del _sessions[other]
        connector = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S, limit=100)
        session = _sessions[loop] = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                                          json_serialize=_dumps)
    return session


async def kept_alive_request(self: Any, method: Text = "post", subpath: Optional[Text] = None,
                             content_type: Optional[Text] = "application/json", compress: bool = False,
                             **kwargs: Any) -> Optional[Any]:
    """Drop-in for `rasa.utils.endpoints.EndpointConfig.request` on a kept-alive session."""
    import aiohttp
    from aiohttp import ContentTypeError
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
    from rasa.shared.exceptions import FileNotFoundException
    from rasa.utils.endpoints import ClientResponseError, concat_url

    headers: Dict[str, Any] = {}
    if content_type:
        headers["Content-Type"] = content_type
    if "headers" in kwargs:
        headers.update(kwargs.pop("headers"))
    if self.headers:
        headers.update(self.headers)
    url = concat_url(self.url, subpath)
    sslcontext = None
    if self.cafile:
        try:
            sslcontext = ssl.create_default_context(cafile=self.cafile)
        except FileNotFoundError as error:
            raise FileNotFoundException(f"Failed to find certificate file, '{self.cafile}' does not exist.") from error
    auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
    timeout = kwargs.pop("timeout", None)
    if timeout is None:
        timeout = DEFAULT_REQUEST_TIMEOUT   # what Rasa's per-request session was given
    if not isinstance(timeout, aiohttp.ClientTimeout):
        timeout = aiohttp.ClientTimeout(total=timeout)
    params = self.combine_parameters(kwargs)
    async with _session().request(method, url, headers=headers, params=params, compress=compress, ssl=sslcontext,
                                  auth=auth, timeout=timeout, **kwargs) as response:
        if response.status >= 400:
            raise ClientResponseError(response.status, response.reason, await response.content.read())
        try:
            return await response.json()
        except ContentTypeError:
            return None


async def close_sessions() -> None:
    """Close the kept-alive session of the running loop (the server is stopping)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None and not session.closed:
        await session.close()


def resolve_by_type(type_name: Text, default: Optional[Type[Any]] = None) -> Optional[Type[Any]]:
    """Drop-in for `Event.resolve_by_type`, remembering what the scan found for each name."""
    found = _event_types.get(type_name)
    if found is not None:
        return found
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    for cls in rasa.shared.utils.common.all_subclasses(Event):
        if cls.type_name == type_name:
            _event_types[type_name] = cls
            return cls
    return _rasa_resolve_by_type(type_name, default)


async def validate_unless_read(self: Any, extraction_events: List[Any], output_channel: Any, nlg: Any,
                               tracker: Any, domain: Any) -> List[Any]:
    """Drop-in for `ActionExtractSlots._execute_validation_action`: no call to
    `action_validate_slot_mappings` for a message read already in this turn (its answer is empty)."""
    from rasa.shared.core.events import SlotSet

    from bot.dialogue.moves import read_already

    # the events Rasa's own version sends (those after the latest restart; slot events do not count)
    if read_already(event.type_name for event in reversed(tracker.events_after_latest_restart())):
        return [event for event in extraction_events if isinstance(event, SlotSet)]
    return await _rasa_execute_validation_action(self, extraction_events, output_channel, nlg, tracker, domain)


def install() -> None:
    """Put all three into the imported Rasa (idempotent)."""
    global _rasa_resolve_by_type, _rasa_execute_validation_action
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    EndpointConfig.request = kept_alive_request  # type: ignore[method-assign]
    if ActionExtractSlots._execute_validation_action is not validate_unless_read:
        _rasa_execute_validation_action = ActionExtractSlots._execute_validation_action
        ActionExtractSlots._execute_validation_action = validate_unless_read  # type: ignore[method-assign]
    current = Event.__dict__["resolve_by_type"]
    current = getattr(current, "__func__", current)
    if current is not resolve_by_type:
        _rasa_resolve_by_type = current
        Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]

"""Reading the widget's requests: body size, JSON, the message, the session id, `after`."""

from __future__ import annotations

import json
import re
from typing import Any, Dict

from sanic.request import Request

from bot.text.persian import is_blank

from ._errors import WebInputError
from ._sessions import SESSION_RE

MAX_TEXT = 4000
MAX_BODY = 16 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_seq(value: str) -> int:
    """A message number from a query or Last-Event-ID; ValueError unless an integer a database can hold."""
    number = int(value)
    if not -(2 ** 63) <= number < 2 ** 63:
        raise ValueError("out of range")
    return number


def checked_session_id(value: Any) -> str:
    """A client's `session_id`, or 400 `invalid_session_id`."""
    if not isinstance(value, str) or not SESSION_RE.match(value) or value.startswith("ref-"):
        raise WebInputError(400, "invalid_session_id", "session_id must be a string of 16-64 letters, digits, - or _")
    return value


def json_body(request: Request) -> Dict[str, Any]:
    """The body as a JSON object ({} when empty); 400/413 when too large, not UTF-8 or not an object."""
    body = request.body or b""
    if len(body) > MAX_BODY:
        raise WebInputError(413, "body_too_large", f"request body over {MAX_BODY} bytes")
    if not body.strip():
        return {}
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebInputError(400, "invalid_utf8", "request body is not valid UTF-8") from None
    try:
        data = json.loads(decoded)
    except (ValueError, RecursionError):  # RecursionError: nesting too deep
        raise WebInputError(400, "malformed_json", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise WebInputError(400, "malformed_json", "request body must be a JSON object")
    return data


def parse_message(request: Request) -> Dict[str, Any]:
    """The message of a POST; `session_id` is None when the client relies on the cookie."""
    data = json_body(request)
    if not data and not (request.body or b"").strip():
        raise WebInputError(400, "malformed_json", "request body is not valid JSON")
    session_id = checked_session_id(data["session_id"]) if "session_id" in data else None
    text, payload = data.get("text"), data.get("payload")
    if payload is not None:
        if not isinstance(payload, str) or not payload.strip() or len(payload) > MAX_TEXT:
            raise WebInputError(400, "invalid_payload", "payload must be a non-empty string")
        title = data.get("title") if isinstance(data.get("title"), str) else payload
        if any(0xD800 <= ord(c) <= 0xDFFF for c in title):
            raise WebInputError(400, "invalid_utf8", "title contains unpaired surrogates")
        return {"session_id": session_id, "text": payload, "shown": title[:MAX_TEXT], "payload": True,
                "identity": data.get("identity")}
    if not isinstance(text, str):
        raise WebInputError(400, "invalid_text", "text must be a string")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise WebInputError(400, "invalid_utf8", "text contains unpaired surrogates")
    text = _CONTROL.sub("", text).strip()
    if is_blank(text):   # "\u200c" alone is empty too
        raise WebInputError(400, "empty_text", "text is empty")
    if len(text) > MAX_TEXT:
        raise WebInputError(413, "text_too_long", f"text longer than {MAX_TEXT} characters")
    return {"session_id": session_id, "text": text, "shown": text, "payload": False,
            "identity": data.get("identity")}

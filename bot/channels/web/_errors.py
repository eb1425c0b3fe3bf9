"""The refusals of the widget's API: each becomes `{"ok": false, "error": code, "detail": ...}`."""

from __future__ import annotations


class WebInputError(Exception):
    """A refusal of the widget's API, carried up to the route that answers it as a JSON error with its
    status."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class SessionEnded(WebInputError):
    """The widget's session token expired or was replaced: 401, so the widget starts a new session."""

    def __init__(self, reason: str) -> None:
        code = "session_expired" if reason == "expired" else "session_ended"
        super().__init__(401, code, "this chat session has ended; start a new one")
        self.reason = reason


class RateLimited(WebInputError):
    """Too many requests from one client: 429 with Retry-After."""

    def __init__(self, wait: float) -> None:
        super().__init__(429, "rate_limited", "too many requests; slow down")
        self.retry_after = str(max(1, int(wait + 0.999)))

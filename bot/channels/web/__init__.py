"""Website chat widget: the Rasa input channel `web` (routes under `/webhooks/web/`).

* `GET  /widget.js`, `/widget.css` — the widget; a shop page embeds it with ONE tag:
  `<script src="https://bot.example/webhooks/web/widget.js" data-lang="fa" defer></script>`
  (optional signed identity: `data-customer-id`, `data-customer-expires`,
  `data-customer-signature`, from `bot.identity.verification.web_identity_for`).
* `GET  /demo` — a Persian (RTL) demo shop page with a few products and the widget.
* `POST /session` — the widget starts or resumes its session (`{"lang", "identity"}`);
  the session token travels only in an HttpOnly cookie, never in the page.
* `POST /logout` — "forget me": ends the session server-side and starts a fresh one.
* `POST /messages` — `{"text": "..."}` (or `"payload"` of a button the bot showed in this
  conversation, optionally `"identity": {...}`); answers `{"ok": true, "message": {...}}`
  only once the bot has handled the message, 503 `processing_failed` if it could not.
* `GET  /history?after=N` — stored messages with `seq > N`.
* `GET  /events?after=N` — Server-Sent Events: every message with `id: <seq>`, plus
  `typing`, `retract` (a refused message) and `ended` (the session ended) events.

Sessions (docs/web_sessions.md): the bearer token (cookie `hamsafar_web`, or
`session_id` in the body/query for API clients) is only a key to a row of
`web_sessions`, which names the conversation (`web:<conversation>`). The token is
rotated when the conversation becomes verified; verified state ends after an idle
and an absolute limit, after which a fresh conversation starts (no history, no
`customer_id`); a signed identity for another customer starts a fresh conversation
too. Conversation keys minted here contain a dot, so a client can never present one
as its token.

This module is the package's public face; the work is done in private modules:

* `_input`    `WebInput`: configuration, the session of a request, signed identity, origins, CORS
* `_routes`   the HTTP routes, one function each, registered by `blueprint()`
* `_requests` reading a request: body size, JSON, the message, the session id
* `_sessions` `web_sessions`: tokens, rotation, expiry, log out, erasure
* `_history`  `web_messages`: append, retract, read back
* `_live`     live push to the open event streams (the one registry of listeners)
* `_output`   `WebOutput`, `send_agent_message`
* `_limits`   rate limits, caps on event streams, the client's address
* `_pages`    the widget's files (`bot/channels/web_static/`) and the demo shop page
* `_errors`   the API's refusals
"""

from ._history import append_message, history
from ._input import WebInput
from ._output import WebOutput, send_agent_message
from ._sessions import SessionLimits, erase_web_sessions, start_session

__all__ = [
    "SessionLimits",
    "WebInput",
    "WebOutput",
    "append_message",
    "erase_web_sessions",
    "history",
    "send_agent_message",
    "start_session",
]

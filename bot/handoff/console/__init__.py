"""The agent console: a Rasa input channel (`handoff`, routes under `/webhooks/handoff/`).

Add to credentials.yml:

    bot.handoff.console.AgentConsoleInput: {}

It runs inside the Rasa server process, so it reaches the tracker store and lock
store through `request.app.ctx.agent` and delivers through the channels' output
paths (`bot.channels.base`). Rasa's HTTP API stays disabled.

Pages: `GET /console` (login and the app; one static page, `static/console.js`).
JSON API under `/api/` (all but login need the session cookie; all POSTs need the
`X-CSRF-Token` header of the session and a JSON body):

| endpoint | roles | |
|---|---|---|
| `POST /api/login`, `POST /api/logout`, `GET /api/me` | any | rate-limited login, server-side session |
| `GET /api/queue` | agent, admin | waiting (position, waiting time, language, stage) and active conversations |
| `POST /api/handoffs/<id>/claim` | agent, admin | exactly one agent wins (409 for the others) |
| `GET /api/handoffs/<id>?after=N` | agent, admin | transcript (bot turns, intents, stage), state, notes; waiting, own or (admin) any |
| `GET /api/handoffs/<id>/customer` | agent, admin | 360°: profile, orders, tickets, earlier conversations on every channel |
| `POST /api/handoffs/<id>/reply` | claiming agent | delivered to the customer's channel and written to the tracker |
| `POST /api/handoffs/<id>/notes` | claiming agent, admin | internal note |
| `POST /api/handoffs/<id>/handback` | claiming agent, admin | the bot resumes with the conversation's context |
| `POST /api/handoffs/<id>/close` | claiming agent, admin | with a disposition |
| `GET /api/canned` | agent, admin | canned replies (fa, en) |
| `GET /api/report` | analyst, admin | aggregate handoff figures, no personal data |
| `GET/POST /api/agents`, `POST /api/agents/<login>/active` | admin | users |
| `GET /api/audit` | admin | who did what, when |

Every response carries a strict Content-Security-Policy; the page writes customer
text with `textContent` only. Every agent action is audited.

This module is the package's public face; the work is done in private modules:

* `_input`     `AgentConsoleInput`: the channel, its start and stop, the claim time-out watcher
* `_routes`    the thin blueprint: the route table and the server listeners
* `_pages`     `GET /`, `/console` and the page's script and style (`bot/handoff/static/`)
* `_sessions`  log in, who am I, log out (the session cookie and CSRF token)
* `_queue`     the queue of handoffs and the canned replies (`bot/handoff/data/canned.yml`)
* `_handoffs`  one conversation's actions: claim, transcript, customer panel, reply, notes, hand back, close
* `_customer`  the customer's 360° panel (CRM, touchpoints, goals, earlier handoffs)
* `_admin`     report, users and audit log for analysts and admins
* `_guard`     session, role and CSRF of each route; which handoffs an agent may see or act on
* `_http`      security headers, JSON answers and refusals, reading a body, same origin
"""

from ._input import AgentConsoleInput

__all__ = ["AgentConsoleInput"]

"""Rasa SDK action server bound to loopback and guarded by a shared token.

`rasa run actions` listens on 0.0.0.0 without authentication. Ours listens on
127.0.0.1 by default and, when `HAMSAFAR_ACTION_TOKEN` is set (`hamsafar run`
always sets one), refuses calls that do not carry it. Rasa sends the token as
the `token` query parameter (`action_endpoint.token` in endpoints.yml).

Run: ``python -m bot.runtime.action_server --port 5055``
"""

from __future__ import annotations

import argparse
import hmac
import logging
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from sanic.request import Request


def build_app(token: Optional[str], actions_package: str = "actions"):  # type: ignore[no-untyped-def]
    """The SDK's Sanic app with a token check in front of every route but /health; once started,
    its objects leave the garbage collector's full walks (`bot.runtime.collector`: up to 600 ms each)."""
    # Imported here, not at the top: `main` installs the warning filters first
    # (rasa_sdk imports sanic_cors, which warned about distutils on every start).
    from rasa_sdk.endpoint import create_app
    from sanic import response

    from bot.runtime import collector

    app = create_app(actions_package, cors_origins=None)
    app.register_listener(collector.freeze_after_start, "after_server_start")

    @app.middleware("request")
    async def require_token(request: Request):  # type: ignore[no-untyped-def]
        if not token or request.path == "/health":
            return None
        supplied = request.args.get("token", "")
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            return response.json({"error": "unauthorised"}, status=401)
        return None

    return app


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=None, help="default HAMSAFAR_ACTIONS_HOST, 127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default HAMSAFAR_ACTIONS_PORT, 5055")
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    from bot.runtime.quiet_warnings import quiet_third_party_deprecations

    quiet_third_party_deprecations()
    from bot import settings
    from bot.identity.verification import missing_pepper_refusal

    refusal = settings.refusal_at_start() or missing_pepper_refusal()
    if refusal:
        raise SystemExit(refusal)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.runtime import log_redaction

    log_redaction.install()   # httpx logs URLs, which may carry a shop's keys
    from bot.schema import init_db

    init_db()   # start-up: the schema is created or upgraded once, before the first action
    from bot.runtime import action_threads

    action_threads.install()   # a slow backend holds one worker thread, not every customer's action
    action_threads.warm_up()
    configured = settings.current()
    app = build_app(configured.action_token, args.actions)
    app.run(configured.actions_host if args.host is None else args.host,
            configured.actions_port if args.port is None else args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()

"""Rasa's own command line, with Hamsafar's runtime adjustments applied first.

Run: ``python -m bot.runtime.rasa_server run --model models ...`` (any `rasa`
arguments). `hamsafar run` starts the Rasa server this way.

The adjustments (both measured with py-spy, issue #16):
- Rasa validates every action-server response with `jsonschema.validate`,
  which re-checks the schema itself and rebuilds a validator on every call —
  about half of the Rasa server's CPU under load. The same schema, compiled
  once, validates the same way: an invalid response still raises
  `jsonschema.ValidationError` with Rasa's hint.
- DIET and TED are loaded for serving (`bot.runtime.model_loading`): without
  tracing a training step, which was most of the server's start-up.
- Calls to the action server reuse kept-alive connections, and an event's class is
  looked up once per type name instead of by a walk over every `Event` subclass for
  every event read (`bot.runtime.message_costs`).

Once the server has started (the model loaded), it parses one throwaway message
(`bot.runtime.warm_up`: the sentiment step fits its classifier on first use, ~400 ms),
then every object alive is exempted from the cyclic garbage collector's later full collections (`bot.runtime.collector`): walking Rasa's
and TensorFlow's half a million objects stopped the event loop for 400-700 ms at a time.

And one protection (issue 17, finding 9): the Sanic app Rasa builds
(`rasa.core.run.configure_app`) gets per-path request body limits enforced before
the body is read (`bot.runtime.request_limits`, docs/limits.md).

Start-up: `run` creates or upgrades the database schema (`bot.schema.init_db`)
before Rasa loads the model, so a database that cannot be reached stops the
server at once instead of failing its first message.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Dict, List, Optional, Text


@functools.lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)   # once, instead of on every response
    return cls(schema)


def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """Drop-in for `RemoteAction._validate_action_result` with a compiled validator."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    if isinstance(error, ValidationError):
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
    raise error


async def warm_up_then_freeze(app: Any, *_: Any) -> None:
    """Sanic `after_server_start`: one throwaway parse, then the garbage collector's freeze
    (the warm-up's objects are frozen with the model's)."""
    from bot.runtime import collector, warm_up

    await warm_up.parse_once(app)
    collector.freeze()


def _with_request_limits(configure_app: Any) -> Any:
    """Rasa's `configure_app`, returning its Sanic app with our body limits installed."""
    if getattr(configure_app, "hamsafar_request_limits", False):
        return configure_app

    @functools.wraps(configure_app)
    def configure(*args: Any, **kwargs: Any) -> Any:
        from bot.runtime import message_costs, request_limits

        app = request_limits.install(configure_app(*args, **kwargs))

        async def close_action_sessions(*_: Any) -> None:
            await message_costs.close_sessions()

        app.register_listener(close_action_sessions, "after_server_stop")
        # after Rasa's own before_server_start listener has loaded the model
        app.register_listener(warm_up_then_freeze, "after_server_start")
        return app

    configure.hamsafar_request_limits = True  # type: ignore[attr-defined]
    return configure


# A call to the action server gives up after this long. Rasa's default is 300 s, longer than
# the 60 s a conversation's lock lives (rasa.core.lock_store.LOCK_LIFETIME): a second message of
# the same conversation could then be processed while the first still waited for its action.
# Our actions end within their backends' deadlines (bot.crm.http: 10 s by default).
ACTION_CALL_TIMEOUT_S = 30


def apply() -> None:
    """Install the adjustments into the imported Rasa (idempotent)."""
    import rasa.core.actions.action as rasa_actions
    import rasa.core.run
    from rasa.core.actions.action import RemoteAction

    from bot.runtime import message_costs, model_loading

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    rasa_actions.DEFAULT_REQUEST_TIMEOUT = ACTION_CALL_TIMEOUT_S  # read by RemoteAction.run at each call
    model_loading.install()
    message_costs.install()
    # serve_application looks configure_app up in its module when it runs: the wrapped one.
    rasa.core.run.configure_app = _with_request_limits(rasa.core.run.configure_app)


def cors_arguments(argv: List[str], allowed_origins: Optional[str]) -> List[str]:
    """`--cors` for the shop's pages allowed to embed the widget (HAMSAFAR_WEB_ALLOWED_ORIGINS).

    Rasa's server answers every browser preflight (OPTIONS) itself, through sanic_cors, before
    any channel's route; without `--cors` it answers with no Access-Control headers, and a
    widget on the shop's own domain could never POST its JSON. With the same origins the
    web channel allows, the preflight says yes to those pages only (credentials included)."""
    origins = [o.strip().rstrip("/") for o in (allowed_origins or "").split(",") if o.strip()]
    return ["--cors", *origins] if origins and "--cors" not in argv else []


def main() -> None:
    from bot.runtime.quiet_warnings import keep_quiet_after_rasa_configures, quiet_third_party_deprecations

    quiet_third_party_deprecations()
    from bot import settings

    refusal = settings.refusal_at_start()   # before Rasa loads: an unusable value stops the start
    if refusal:
        raise SystemExit(refusal)
    keep_quiet_after_rasa_configures()
    apply()
    from bot.runtime import log_redaction

    log_redaction.install()
    if sys.argv[1:2] == ["run"]:  # the server (not `rasa train`/`shell`): start-up creates or upgrades the schema
        from bot.schema import init_db

        init_db()
        sys.argv += cors_arguments(sys.argv, settings.current().web_allowed_origins)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()

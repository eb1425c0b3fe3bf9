"""bot.runtime.rasa_server: the compiled action-response validator accepts and refuses
exactly what Rasa's own `jsonschema.validate` does."""

from __future__ import annotations

from typing import Any, Dict

import pytest

pytest.importorskip("rasa")

from jsonschema import ValidationError, validate  # noqa: E402
from rasa.core.actions.action import RemoteAction  # noqa: E402

from bot.runtime import rasa_server  # noqa: E402

VALID: Dict[str, Any] = {
    "events": [{"event": "slot", "name": "order_id", "value": "100002"}],
    "responses": [{"text": "Order 100002 is on its way", "buttons": [{"title": "ok", "payload": "/affirm"}]}],
}
INVALID = [
    {"events": "not a list", "responses": []},
    {"events": [{"name": "no event key"}], "responses": []},
    {"events": [], "responses": "text"},
]


def test_valid_response_passes_like_rasa() -> None:
    validate(VALID, RemoteAction.action_response_format_spec())   # Rasa's own check agrees
    assert rasa_server._validate_action_result(None, VALID) is True


@pytest.mark.parametrize("response", INVALID)
def test_invalid_response_is_refused_like_rasa(response: Dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        validate(response, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError) as raised:
        rasa_server._validate_action_result(None, response)
    assert "Failed to validate Action server response" in raised.value.message


def test_apply_replaces_rasas_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.utils.tensorflow.models import RasaModel

    from bot.runtime import model_loading

    # Rasa's own methods are back after the test (later tests in this process compare with them).
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(EndpointConfig, "request", EndpointConfig.request)
    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    from rasa.core.actions.action import ActionExtractSlots

    monkeypatch.setattr(ActionExtractSlots, "_execute_validation_action", ActionExtractSlots._execute_validation_action)
    monkeypatch.setattr(RasaModel, "load", RasaModel.load)
    import rasa.core.actions.action as rasa_actions
    from rasa.core.lock_store import LOCK_LIFETIME

    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

    # Rasa's own 300 s (another test's apply() may have run in this process), restored afterwards
    monkeypatch.setattr(rasa_actions, "DEFAULT_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT)
    assert DEFAULT_REQUEST_TIMEOUT > LOCK_LIFETIME
    rasa_server.apply()
    # an action call gives up before the conversation's lock expires: two messages of one
    # conversation are never processed at once while an action hangs
    assert rasa_actions.DEFAULT_REQUEST_TIMEOUT < LOCK_LIFETIME
    assert RemoteAction._validate_action_result is rasa_server._validate_action_result
    assert RasaModel.load.__func__ is model_loading.load_for_serving
    with pytest.raises(ValidationError):
        RemoteAction._validate_action_result(None, INVALID[0])  # type: ignore[arg-type]

    from bot.runtime import message_costs

    assert EndpointConfig.request is message_costs.kept_alive_request
    assert Event.resolve_by_type("user").__name__ == "UserUttered"

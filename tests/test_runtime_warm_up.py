"""The Rasa server's start-up parse (bot.runtime.warm_up): it never stops a server from starting.

The parse through a real trained model is in test_nlu_pipeline.py (its tiny model)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, Dict, List

from bot.runtime import warm_up


class _Agent:
    def __init__(self, ready: bool = True, fails: bool = False) -> None:
        self.ready, self.fails, self.parsed = ready, fails, []  # type: ignore[var-annotated]

    def is_ready(self) -> bool:
        return self.ready

    async def parse_message(self, text: str) -> Dict[str, Any]:
        if self.fails:
            raise RuntimeError("model broken")
        self.parsed.append(text)
        return {"text": text}


def _app(agent: Any) -> Any:
    return SimpleNamespace(ctx=SimpleNamespace(agent=agent))


def test_a_loaded_model_parses_one_message() -> None:
    agent = _Agent()
    assert asyncio.run(warm_up.parse_once(_app(agent))) is True
    assert agent.parsed == [warm_up.WARM_UP_TEXT]


def test_no_model_or_a_model_not_ready_is_skipped() -> None:
    assert asyncio.run(warm_up.parse_once(SimpleNamespace(ctx=SimpleNamespace()))) is False
    agent = _Agent(ready=False)
    assert asyncio.run(warm_up.parse_once(_app(agent))) is False
    assert agent.parsed == []


def test_a_failing_parse_is_logged_not_raised(caplog: Any) -> None:
    assert asyncio.run(warm_up.parse_once(_app(_Agent(fails=True)))) is False
    assert "warm-up parse failed" in caplog.text

"""The second half of the tuning conversations (see tests/test_conversation_repair.py): the
same checks, on their own bot, so that the other pytest worker plays them at the same time."""

from __future__ import annotations

from typing import Dict, Iterator

import pytest

from tests.fakes.sms_gateways import FakeSmsGateways
from tests.support.conversations import Result
from tests.test_conversation_repair import (  # noqa: F401 - the same tests, collected here too
    SECOND_HALF, played, pytestmark, sms, test_no_conversation_leaks_internals_or_switches_language,
    test_tuning_set_success_rates,
)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, sms: FakeSmsGateways) -> Iterator[Dict[str, Result]]:
    """The second half of the tuning set."""
    yield from played(tmp_path_factory, sms, "conversations-second-half", SECOND_HALF)

"""Agent console logins: guessing is slowed without locking the owner out (security finding 10).

Failures count per account *and* address (the owner elsewhere still logs in), per address (password
spraying) and per account from everywhere (a distributed guess, at a much higher bar). Each attempt
is recorded before it is counted, so parallel guesses cannot all slip under the limit.
"""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from bot.handoff import service

PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgresql"])
def agents(request: pytest.FixtureRequest, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'console.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)
    service.create_agent("bob", PASSWORD, "agent", "Bob")
    service.create_agent("alice", PASSWORD, "agent", "Alice")
    yield


@pytest.mark.usefixtures("agents")
def test_failures_from_one_address_do_not_lock_the_owner_elsewhere() -> None:
    for _ in range(service.MAX_FAILURES_PER_LOGIN_AND_ADDRESS):
        assert service.authenticate("bob", "wrong guess", "203.0.113.9") is None
    with pytest.raises(service.RateLimited):
        service.authenticate("bob", PASSWORD, "203.0.113.9")      # the guesser's address is slowed
    assert service.authenticate("bob", PASSWORD, "198.51.100.4")["login"] == "bob"   # the owner is not
    assert service.authenticate("alice", PASSWORD, "203.0.113.9")["login"] == "alice"


@pytest.mark.usefixtures("agents")
def test_a_success_clears_only_that_address_and_spraying_locks_the_address() -> None:
    for _ in range(service.MAX_FAILURES_PER_LOGIN_AND_ADDRESS - 1):
        assert service.authenticate("bob", "wrong guess", "198.51.100.4") is None
    assert service.authenticate("bob", PASSWORD, "198.51.100.4") is not None   # counting starts again
    assert service.authenticate("bob", "typo", "198.51.100.4") is None
    for i in range(service.MAX_FAILURES_PER_ADDRESS):
        try:
            service.authenticate(f"guess{i}", "wrong guess", "203.0.113.50")
        except service.RateLimited:
            pytest.fail("locked before the address's limit")
    with pytest.raises(service.RateLimited):
        service.authenticate("alice", PASSWORD, "203.0.113.50")


@pytest.mark.usefixtures("agents")
def test_parallel_guesses_never_get_more_tries_than_the_limit() -> None:
    checked, refused = [], []
    start = threading.Barrier(24)

    def guess() -> None:
        start.wait()
        try:
            service.authenticate("bob", "wrong guess", "203.0.113.77")
            checked.append(1)
        except service.RateLimited:
            refused.append(1)

    threads = [threading.Thread(target=guess) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked) + len(refused) == 24
    assert len(checked) <= service.MAX_FAILURES_PER_LOGIN_AND_ADDRESS, f"{len(checked)} passwords were checked"

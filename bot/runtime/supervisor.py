"""Start the action server and the Rasa server(s), and keep them together.

One process (`hamsafar run`): if either process exits, the other is stopped
and `run` returns non-zero. The several-process topology (`--workers N`,
bot.runtime.topology) marks its processes `restart=True`: one that exits is
started again (after `RESTART_DELAY_S`), unless it keeps failing —
`MAX_RESTARTS` within `RESTART_WINDOW_S` — when everything is stopped as in one
process. SIGINT/SIGTERM stop all cleanly and `run` returns 0. Children get
their own process group so a terminal's Ctrl-C reaches only the supervisor,
which then stops them in reverse order of start.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

STOP_TIMEOUT_S = 20.0
RESTART_DELAY_S = 1.0
MAX_RESTARTS = 5
RESTART_WINDOW_S = 120.0


@dataclass
class ManagedProcess:
    """A child process `hamsafar run` starts, watches and, if asked, restarts when it exits."""

    name: str
    command: Sequence[str]
    env: dict
    cwd: str
    process: Optional[subprocess.Popen] = field(default=None, repr=False)
    restart: bool = False   # started again when it exits (the topology's workers, consumer, action server)
    restarts: List[float] = field(default_factory=list, repr=False)   # monotonic times of restarts

    def start(self) -> None:
        self.process = subprocess.Popen(list(self.command), env=self.env, cwd=self.cwd, start_new_session=True)

    @property
    def pid(self) -> Optional[int]:
        return None if self.process is None else self.process.pid

    def may_restart(self, now: float) -> bool:
        """True while it has not failed `MAX_RESTARTS` times within `RESTART_WINDOW_S`."""
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S]
        return self.restart and len(self.restarts) < MAX_RESTARTS

    def exit_code(self) -> Optional[int]:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_for_http(url: str, timeout_s: float, alive: Callable[[], bool]) -> bool:
    """Poll `url` until it answers 2xx, the deadline passes or `alive()` is False."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - loopback URL we built
                if 200 <= reply.status < 300:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


class Supervisor:
    """Runs processes until one exits or a stop signal arrives."""

    def __init__(self, processes: List[ManagedProcess], announce: bool = False) -> None:
        self.processes = processes
        self.announce = announce   # print "<name>: pid N" on every start (the topology's operators and tests read it)
        self._stop = threading.Event()

    def _on_signal(self, signum: int, _frame: object) -> None:
        print(f"\n[hamsafar] {signal.Signals(signum).name} received, stopping…", flush=True)
        self._stop.set()

    def all_alive(self) -> bool:
        return all(p.exit_code() is None for p in self.processes)

    def start(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for managed in self.processes:
            self._start(managed)

    def _start(self, managed: ManagedProcess) -> None:
        managed.start()
        if self.announce:
            print(f"[hamsafar] {managed.name}: pid {managed.pid}", flush=True)

    def wait(self) -> int:
        """Block until a signal (returns 0) or a child that may not restart exits (its code, at least 1)."""
        failed: Optional[ManagedProcess] = None
        while not self._stop.is_set():
            for managed in self.processes:
                code = managed.exit_code()
                if code is None:
                    continue
                if not managed.may_restart(time.monotonic()):
                    failed = managed
                    break
                print(f"[hamsafar] {managed.name} exited with code {code}; restarting it.", file=sys.stderr, flush=True)
                if self._stop.wait(RESTART_DELAY_S):
                    break
                managed.restarts.append(time.monotonic())
                self._start(managed)
            if failed:
                break
            self._stop.wait(0.5)
        self.stop_all()
        if failed is not None:
            code = failed.exit_code() or 1
            print(f"[hamsafar] {failed.name} exited with code {failed.exit_code()}; stopped the others.", file=sys.stderr, flush=True)
            return code
        return 0

    def request_stop(self) -> None:
        self._stop.set()

    def stop_all(self) -> None:
        for managed in reversed(self.processes):
            managed.stop()

"""Start the action server and the Rasa server, and keep them together.

If either process exits, the other is stopped and `run` returns non-zero;
SIGINT/SIGTERM stop both cleanly and `run` returns 0. Children get their own
process group so a terminal's Ctrl-C reaches only the supervisor, which then
stops them in order (Rasa first, then the action server).
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


@dataclass
class ManagedProcess:
    name: str
    command: Sequence[str]
    env: dict
    cwd: str
    process: Optional[subprocess.Popen] = field(default=None, repr=False)

    def start(self) -> None:
        self.process = subprocess.Popen(list(self.command), env=self.env, cwd=self.cwd, start_new_session=True)

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

    def __init__(self, processes: List[ManagedProcess]) -> None:
        self.processes = processes
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
            managed.start()

    def wait(self) -> int:
        """Block until a signal (returns 0) or a child exits (returns its code, at least 1)."""
        failed: Optional[ManagedProcess] = None
        while not self._stop.is_set():
            for managed in self.processes:
                if managed.exit_code() is not None:
                    failed = managed
                    break
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

"""A real Hamsafar (`hamsafar run`) on free loopback ports, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class BotServer:
    """Starts `hamsafar run --skip-train` and talks to it over HTTP."""

    def __init__(self, database_url: str, port: int, actions_port: int, log_path: Path,
                 extra_env: Optional[Dict[str, str]] = None, extra_args: Optional[List[str]] = None) -> None:
        self.database_url = database_url
        self.port = port
        self.actions_port = actions_port
        self.log_path = log_path
        self.extra_env = extra_env or {}
        self.extra_args = extra_args or []  # e.g. ["--bale-polling"]
        self.process: Optional[subprocess.Popen] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 240) -> "BotServer":
        env = dict(os.environ)
        env.update({
            "HAMSAFAR_DATABASE_URL": self.database_url,
            "RASA_TELEMETRY_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
            # proactive journeys would message the demo shop's customers into other tests' conversations
            "HAMSAFAR_JOURNEYS": "off",
            **self.extra_env,
        })
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--skip-train",
             "--port", str(self.port), "--actions-port", str(self.actions_port), *self.extra_args],
            cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hamsafar run exited with {self.process.returncode}; log: {self.log_path}\n{self.log_tail()}")
            if b"Hamsafar is running" in self.log_path.read_bytes():
                return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"hamsafar run not ready after {timeout_s}s; log: {self.log_path}\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 60) -> int:
        """Stop like a person pressing Ctrl-C; return the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def post_raw(self, content: bytes, headers: Optional[Dict[str, str]] = None) -> httpx.Response:
        return httpx.post(self.base_url + "/webhooks/rest/webhook", content=content,
                          headers={"Content-Type": "application/json", **(headers or {})}, timeout=60)

    def send(self, sender: str, text: str) -> List[Dict[str, Any]]:
        """One customer message through the REST channel; the bot's messages."""
        reply = httpx.post(self.base_url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
        reply.raise_for_status()
        return reply.json()


def texts(messages: List[Dict[str, Any]]) -> str:
    """All bot text of a reply, joined."""
    return "\n".join(str(m.get("text", "")) for m in messages)

"""Request bodies are refused before they are read (issue 17, finding 9; bot/runtime/request_limits.py).

A real Rasa server started the way `hamsafar run` starts it (`python -m bot.runtime.rasa_server run`,
every channel of credentials.yml), without a trained model (a model server that never answers, so
the HTTP stack is up in about a minute). Raw sockets send what an attacker would: a huge
`Content-Length` with no body, and a chunked body that never ends. The server must answer 413 with
a JSON error before the body arrives, and its memory must not grow with the body.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, Tuple

import httpx
import pytest

pytest.importorskip("rasa")

from bot.runtime import request_limits  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024

# One path per route prefix of the Rasa server process, with the limit docs/limits.md gives it.
PATHS = {
    "/webhooks/rest/webhook": 64 * 1024,
    "/webhooks/web/messages": 16 * 1024,
    "/webhooks/hamsafar_telegram/webhook": 256 * 1024,
    "/webhooks/hamsafar_bale/webhook/some-secret": 256 * 1024,
    "/webhooks/sms/twilio": 64 * 1024,
    "/webhooks/sms/kavenegar/some-secret": 64 * 1024,
    "/webhooks/handoff/api/login": 16 * 1024,
    "/webhooks/journeys/woocommerce": MB,
    "/webhooks/journeys/events": MB,
    "/no/such/path": 16 * 1024,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, int, subprocess.Popen]]:
    state = tmp_path_factory.mktemp("limits")
    endpoints = state / "endpoints.yml"
    # No tracker store, broker or action server needed: nothing here reaches Rasa. A model server
    # lets `rasa run` start without a trained model; it is never reachable.
    endpoints.write_text("models:\n  url: http://127.0.0.1:9/no-model\n  wait_time_between_pulls: null\n")
    port = _free_port()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "HAMSAFAR_STATE_DIR": str(state),
           "HAMSAFAR_DATABASE_URL": f"sqlite:///{state / 'hamsafar.db'}", "HAMSAFAR_JOURNEYS": "off",
           "PYTHONUNBUFFERED": "1"}
    log = open(state / "server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.runtime.rasa_server", "run", "--credentials", "credentials.yml",
         "--endpoints", str(endpoints), "--interface", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError((state / "server.log").read_text(errors="replace")[-3000:])
            try:
                if httpx.get(base + "/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("Rasa server not up")
            time.sleep(0.5)
        yield "127.0.0.1", port, process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _read_response(sock: socket.socket, timeout: float) -> Tuple[int, Dict[str, str], bytes]:
    """Status, headers and body of one HTTP/1.1 response (Content-Length framed)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body[:length]


def _head(path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{extra}\r\n").encode()


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_huge_content_length_is_refused_before_any_body_byte(server: Tuple[str, int, subprocess.Popen],
                                                                path: str) -> None:
    host, port, _ = server
    with socket.create_connection((host, port)) as sock:
        sock.sendall(_head(path, "Content-Length: 50000000\r\n"))   # 50 MB announced, not one byte sent
        status, headers, body = _read_response(sock, timeout=10)
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"error": "body_too_large", "message": f"request body over {PATHS[path]} bytes"}
    assert headers.get("connection") == "close"


@pytest.mark.parametrize("path", ["/webhooks/web/messages", "/webhooks/rest/webhook", "/webhooks/journeys/woocommerce"])
def test_a_chunked_body_that_never_ends_is_cut_off_at_the_limit(server: Tuple[str, int, subprocess.Popen],
                                                                 path: str) -> None:
    host, port, process = server
    rss_before = _rss_bytes(process.pid)
    chunk = b"a" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    stop = threading.Event()

    with socket.create_connection((host, port)) as sock:
        sock.sendall(_head(path, "Transfer-Encoding: chunked\r\n"))

        def pump() -> None:   # up to 64 MB, until the server stops reading or closes
            nonlocal sent
            try:
                while sent < 64 * MB and not stop.is_set():
                    sock.sendall(frame)
                    sent += len(chunk)
            except OSError:
                pass

        sender = threading.Thread(target=pump, daemon=True)
        sender.start()
        status, headers, body = _read_response(sock, timeout=30)
        sender.join(10)   # the server closed: sending fails; a blocked send returns once the socket is gone
        stop.set()
    assert status == 413 and json.loads(body)["error"] == "body_too_large"
    # What got out of our socket is the limit plus what the two kernels' socket buffers absorb.
    assert sent < 16 * MB, f"{sent / MB:.1f} MB went out before the server refused"
    grown = _rss_bytes(process.pid) - rss_before
    assert grown < 20 * MB, f"server memory grew by {grown / MB:.1f} MB"
    print(f"{path}: {sent / MB:.2f} MB sent before the 413, server RSS {grown / MB:+.1f} MB")   # docs/limits.md

    # The same endpoint still reads a body within its limit and answers it itself: malformed JSON 400,
    # the shop webhook 503 because no secret is configured here (docs/security.md).
    answer = httpx.post(f"http://{host}:{port}{path}", content=b"{not json", timeout=10,
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == (503 if "journeys" in path else 400), answer.text


def test_the_server_wide_ceiling_is_the_largest_route_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sanic's REQUEST_MAX_SIZE (100 MB by default) becomes 1 MB in the app Rasa builds for us."""
    import rasa.core.run
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.tensorflow.models import RasaModel

    from bot.runtime import rasa_server

    # apply() also replaces Rasa's model loading and action validation: Rasa's own are back after
    # the test (later tests in this worker compare with them)
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(RasaModel, "load", RasaModel.load)
    original = rasa.core.run.configure_app
    try:
        rasa_server.apply()
        app = rasa.core.run.configure_app([], enable_api=False)
        assert app.config.REQUEST_MAX_SIZE == request_limits.SERVER_MAX == MB
        assert request_limits.limit_for("/webhooks/web/messages") == 16 * 1024
        assert request_limits.limit_for("/webhooks/journeys") == MB
        assert request_limits.limit_for("/elsewhere") == request_limits.DEFAULT_LIMIT
    finally:
        rasa.core.run.configure_app = original

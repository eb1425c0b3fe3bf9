"""A fake Bot API on 127.0.0.1 speaking the real wire protocol: Telegram's, or Bale's.

`POST /bot<token>/<method>` with form-encoded, multipart or JSON parameters;
answers `{"ok": true, "result": ...}` like api.telegram.org and tapi.bale.ai. Tests
script failures with `fail_next(method, status, description, retry_after)`, slow
answers with `delays[method] = seconds`, a call carried out whose connection is
then closed unanswered with `drop_next(method)`, and read `calls` (method, params, time).
`push(update)` delivers an update to the webhook registered with setWebhook, the
way the platform does.

Where Bale's documentation differs from Telegram's, `FakeBale` does what Bale
documents: setWebhook takes only `url` (no `secret_token`, so no secret header on
deliveries), getUpdates takes `offset`/`limit` and answers at once (no long
polling), getMe returns a plain user. Everything else is shared.
"""

from __future__ import annotations

import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

import httpx

BOT_ID = 7000001


class FakeTelegram:
    """The Telegram Bot API (api.telegram.org)."""

    long_polling = True  # getUpdates waits (up to `timeout`, shortened here) for an update
    secret_header: Optional[str] = "X-Telegram-Bot-Api-Secret-Token"

    def __init__(self, token: str) -> None:
        self.token = token
        self.webhook: Dict[str, Any] = {}  # the last setWebhook parameters
        self.calls: List[Tuple[str, Dict[str, Any], float]] = []
        self.failures: Dict[str, List[Tuple[int, str, Optional[int]]]] = {}
        self.updates: List[Dict[str, Any]] = []
        self.request_lines: List[str] = []
        self.delays: Dict[str, float] = {}  # method -> seconds to wait before answering
        self.drops: Dict[str, int] = {}     # method -> calls to carry out but not answer (connection closed)
        self._lock = threading.Lock()
        self._message_id = 100
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.request_lines.append(self.path)
                prefix = f"/bot{fake.token}/"
                if not self.path.startswith(prefix):
                    return self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                method = self.path[len(prefix):].split("?")[0]
                params = fake._parse(self.headers.get("Content-Type", ""), body)
                if fake._take_drop(method):  # delivered, but the connection is lost before the answer
                    with fake._lock:
                        fake.calls.append((method, params, time.monotonic()))
                    self.close_connection = True
                    self.connection.close()
                    return
                status, payload = fake._dispatch(method, params)
                self._send(status, payload)

            def _send(self, status: int, payload: Dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/bot"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- control -----------------------------------------------------------------
    def start(self) -> "FakeTelegram":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def fail_next(self, method: str, status: int, description: str, retry_after: Optional[int] = None) -> None:
        with self._lock:
            self.failures.setdefault(method, []).append((status, description, retry_after))

    def drop_next(self, method: str) -> None:
        """The next `method` call is carried out, then its connection closed without an answer."""
        with self._lock:
            self.drops[method] = self.drops.get(method, 0) + 1

    def _take_drop(self, method: str) -> bool:
        with self._lock:
            if self.drops.get(method):
                self.drops[method] -= 1
                return True
            return False

    def sent(self, method: str = "sendMessage") -> List[Dict[str, Any]]:
        with self._lock:
            return [params for name, params, _ in self.calls if name == method]

    def wait_for(self, method: str, count: int, timeout: float = 15) -> List[Dict[str, Any]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.sent(method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.sent(method)

    # -- protocol ------------------------------------------------------------------
    @staticmethod
    def _parse(content_type: str, body: bytes) -> Dict[str, Any]:
        if not body:
            return {}
        if content_type.startswith("application/json"):
            return json.loads(body)
        if content_type.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
            )
            return {
                part.get_param("name", header="content-disposition"): part.get_content()
                for part in message.iter_parts()
            }
        return {key: values[-1] for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}

    def _dispatch(self, method: str, params: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        if self.delays.get(method):
            time.sleep(self.delays[method])  # a slow Bot API answer
        with self._lock:
            self.calls.append((method, params, time.monotonic()))
            queue = self.failures.get(method)
            if queue:
                status, description, retry_after = queue.pop(0)
                payload: Dict[str, Any] = {"ok": False, "error_code": status, "description": description}
                if retry_after is not None:
                    payload["parameters"] = {"retry_after": retry_after}
                return status, payload
        if method == "getMe":
            return 200, {"ok": True, "result": self.me()}
        if method in ("sendMessage", "sendInvoice"):
            with self._lock:
                self._message_id += 1
                message_id = self._message_id
            chat_id = int(params.get("chat_id"))
            return 200, {"ok": True, "result": {
                "message_id": message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Hamsafar"},
                **self._content(method, params)}}
        if method == "getUpdates":
            timeout = min(float(params.get("timeout") or 0), 0.5) if self.long_polling else 0
            deadline = time.time() + timeout
            while time.time() < deadline and not self.updates:
                time.sleep(0.05)
            with self._lock:
                updates, self.updates = self.updates, []
            return 200, {"ok": True, "result": updates}
        if method == "setWebhook":
            with self._lock:
                self.webhook = dict(params)
            return 200, {"ok": True, "result": True}
        if method == "deleteWebhook":
            with self._lock:
                self.webhook = {}
            return 200, {"ok": True, "result": True}
        if method in ("answerCallbackQuery", "answerPreCheckoutQuery", "close", "logOut"):
            return 200, {"ok": True, "result": True}
        return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: method {method} not faked"}

    def me(self) -> Dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Hamsafar", "username": "hamsafar_test_bot",
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    @staticmethod
    def _content(method: str, params: Dict[str, Any]) -> Dict[str, Any]:
        if method == "sendInvoice":
            prices = params.get("prices")
            prices = json.loads(prices) if isinstance(prices, str) else prices or []
            return {"invoice": {"title": params.get("title", ""), "description": params.get("description", ""),
                                "start_parameter": "", "currency": params.get("currency", ""),
                                "total_amount": sum(int(p["amount"]) for p in prices)}}
        return {"text": params.get("text", "")}

    # -- the platform calling the bot -----------------------------------------------
    def push(self, update: Dict[str, Any], timeout: float = 10) -> httpx.Response:
        """POST `update` to the registered webhook as the platform does (with its secret header, if any)."""
        url = self.webhook.get("url")
        assert url, "no webhook registered (setWebhook was not called)"
        headers = {}
        secret = self.webhook.get("secret_token")
        if self.secret_header and secret:
            headers[self.secret_header] = secret
        return httpx.post(url, json=update, headers=headers, timeout=timeout)


class FakeBale(FakeTelegram):
    """Bale's Bot API (tapi.bale.ai), where its documentation differs from Telegram's."""

    long_polling = False  # getUpdates documents offset and limit only: it answers at once
    secret_header = None  # setWebhook documents only `url`: deliveries carry no secret header

    def me(self) -> Dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Hamsafar", "username": "hamsafar_test_bot"}


def text_update(update_id: int, text: str, *, chat_id: int = 4242, user_id: int = 4242,
                chat_type: str = "private", language_code: Optional[str] = "fa") -> Dict[str, Any]:
    chat: Dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = "Sara"
    else:
        chat["title"] = "Shop fans"
    sender: Dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Sara"}
    if language_code is not None:
        sender["language_code"] = language_code
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "chat": chat, "from": sender, "text": text}}


def contact_update(update_id: int, phone: str, *, contact_user_id: Optional[int], chat_id: int = 4242,
                   user_id: int = 4242) -> Dict[str, Any]:
    """A shared contact; `contact_user_id` None for a contact typed in by hand (no user behind it)."""
    update = text_update(update_id, "", chat_id=chat_id, user_id=user_id, language_code=None)
    message = update["message"]
    message.pop("text")
    message["contact"] = {"phone_number": phone, "first_name": "Sara"}
    if contact_user_id is not None:
        message["contact"]["user_id"] = contact_user_id
    return update


def callback_update(update_id: int, data: str, *, chat_id: int = 4242, user_id: int = 4242,
                    chat_instance: Optional[str] = "ci") -> Dict[str, Any]:
    """A press on an inline button of message 101; Bale's clients treat `chat_instance` as optional."""
    query: Dict[str, Any] = {"id": f"cbq-{update_id}", "data": data,
                             "from": {"id": user_id, "is_bot": False, "first_name": "Sara"},
                             "message": {"message_id": 101, "date": int(time.time()),
                                         "chat": {"id": chat_id, "type": "private"}, "text": "?"}}
    if chat_instance is not None:
        query["chat_instance"] = chat_instance
    return {"update_id": update_id, "callback_query": query}

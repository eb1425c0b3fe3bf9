"""Fake Kavenegar and Twilio REST APIs on 127.0.0.1, speaking their wire formats.

Kavenegar: `POST /v1/{API-KEY}/sms/send.json` (receptor, message, sender, localid)
and `/v1/{API-KEY}/sms/statuslocalmessageid.json` (localid).
Twilio: `POST|GET /2010-04-01/Accounts/{Sid}/Messages.json` with Basic auth.

`script(kind, ...)` queues behaviours for the next sends: "accept_then_500"
(message delivered, answer lost as a 500), "500" (not delivered; Kavenegar's own
JSON error), "proxy_502" (not delivered, but answered by a proxy's HTML page in
front of the API, which cannot tell whether the API took it), "drop"
(delivered, connection closed without an answer), "slow:SECONDS" (the request is
held that long, then delivered — a send still in flight when its sender dies or
another process looks it up). `delivered` lists messages that really went out.
"""

from __future__ import annotations

import base64
import email.utils
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

API_KEY = "6B4F-FAKE-KAVENEGAR-KEY-0000"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "fake-twilio-auth-token-123"


PROXY_502 = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"


class FakeSmsGateways:
    def __init__(self) -> None:
        self.delivered: List[Dict[str, Any]] = []
        self.requests: List[Dict[str, Any]] = []
        self.scripts: Dict[str, List[str]] = {"kavenegar": [], "twilio": [], "kavenegar_lookup": [], "twilio_lookup": []}
        self._lock = threading.Lock()
        self._next_id = 5000
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                params.update({k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()})
                fake.requests.append({"method": method, "path": parts.path, "params": params})
                status, payload = fake._route(method, parts.path, params, self.headers)
                if status == 0:  # drop the connection without answering
                    self.close_connection = True
                    self.connection.close()
                    return
                page = isinstance(payload, str)   # a proxy's error page in front of the API, not its JSON
                data = payload.encode() if page else json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if page else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeSmsGateways":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, kind: str, *behaviours: str) -> None:
        with self._lock:
            self.scripts[kind].extend(behaviours)

    def _pop(self, kind: str) -> Optional[str]:
        with self._lock:
            return self.scripts[kind].pop(0) if self.scripts[kind] else None

    def sends(self, gateway: str) -> List[Dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"].endswith(
            "send.json" if gateway == "kavenegar" else "Messages.json")]

    def _deliver(self, gateway: str, to: str, text: str, local_id: Optional[str]) -> Dict[str, Any]:
        with self._lock:
            self._next_id += 1
            record = {"gateway": gateway, "id": self._next_id, "to": to, "text": text, "localid": local_id,
                      "at": time.time()}
            self.delivered.append(record)
            return record

    # -- Kavenegar ---------------------------------------------------------------------
    def _route(self, method: str, path: str, params: Dict[str, str], headers: Any):  # type: ignore[no-untyped-def]
        if path.startswith("/v1/"):
            return self._kavenegar(path, params)
        if path.startswith("/2010-04-01/Accounts/"):
            return self._twilio(method, path, params, headers)
        return 404, {"error": "not found"}

    def _kavenegar(self, path: str, params: Dict[str, str]):  # type: ignore[no-untyped-def]
        _, _, key, *rest = path.split("/")
        if key != API_KEY:
            return 401, {"return": {"status": 401, "message": "API Key نامعتبر است"}, "entries": None}
        method = "/".join(rest)
        if method == "sms/send.json":
            if not params.get("receptor") or not params.get("message"):
                return 411, {"return": {"status": 411, "message": "گیرنده نامعتبر است"}, "entries": None}
            behaviour = self._pop("kavenegar")
            if behaviour and behaviour.startswith("slow:"):
                time.sleep(float(behaviour.split(":", 1)[1]))
            if behaviour == "411":
                return 411, {"return": {"status": 411, "message": "گیرنده نامعتبر است"}, "entries": None}
            if behaviour == "500":
                return 500, {"return": {"status": 500, "message": "خطای سرور"}, "entries": None}
            if behaviour == "proxy_502":
                return 502, PROXY_502
            record = self._deliver("kavenegar", params["receptor"], params["message"], params.get("localid"))
            if behaviour == "accept_then_500":
                return 502, {"return": {"status": 502, "message": "Bad gateway"}, "entries": None}
            if behaviour == "drop":
                return 0, {}
            return 200, {"return": {"status": 200, "message": "تایید شد"}, "entries": [{
                "messageid": record["id"], "message": params["message"], "status": 1, "statustext": "در صف ارسال",
                "sender": params.get("sender", "10004346"), "receptor": params["receptor"],
                "date": int(record["at"]), "cost": 1200}]}
        if method == "sms/statuslocalmessageid.json":
            if self._pop("kavenegar_lookup") == "500":
                return 500, {"return": {"status": 500, "message": "خطای سرور"}, "entries": None}
            local_id = params.get("localid")
            for record in self.delivered:
                if record["gateway"] == "kavenegar" and record["localid"] == local_id:
                    return 200, {"return": {"status": 200, "message": "تایید شد"}, "entries": [{
                        "messageid": record["id"], "localid": local_id, "status": 10, "statustext": "رسیده به گیرنده"}]}
            return 200, {"return": {"status": 200, "message": "تایید شد"}, "entries": [{
                "messageid": 0, "localid": local_id, "status": 100, "statustext": "شناسه پیامک نامعتبر است"}]}
        return 404, {"return": {"status": 404, "message": "not found"}, "entries": None}

    # -- Twilio ------------------------------------------------------------------------------
    def _twilio(self, method: str, path: str, params: Dict[str, str], headers: Any):  # type: ignore[no-untyped-def]
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if headers.get("Authorization") != expected or f"/Accounts/{TWILIO_SID}/" not in path:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if method == "GET":
            if self._pop("twilio_lookup") == "500":
                return 500, {"code": 20500, "message": "Internal Server Error", "status": 500}
            found = [r for r in reversed(self.delivered) if r["gateway"] == "twilio" and r["to"] == params.get("To")]
            return 200, {"messages": [{
                "sid": f"SM{r['id']:032d}", "to": r["to"], "body": r["text"], "status": "queued",
                "date_created": email.utils.formatdate(r["at"], usegmt=True)} for r in found]}
        if not params.get("To") or not params.get("Body"):
            return 400, {"code": 21604, "message": "A 'To' phone number is required.", "status": 400}
        behaviour = self._pop("twilio")
        if behaviour == "500":
            return 500, {"code": 20500, "message": "Internal Server Error", "status": 500}
        record = self._deliver("twilio", params["To"], params["Body"], None)
        if behaviour == "accept_then_500":
            return 503, {"code": 20503, "message": "Service Unavailable", "status": 503}
        if behaviour == "drop":
            return 0, {}
        return 201, {"sid": f"SM{record['id']:032d}", "to": params["To"], "from": params.get("From"),
                     "body": params["Body"], "status": "queued", "num_segments": "1"}

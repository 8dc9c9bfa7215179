"""A fake SMS gateway on a free port: http.server in a thread, for fault tests.

It records every request (message id, phone, text, and what the test's ``on_request``
hook returned), and "delivers" a message when it has read the request, before it
answers: like a real gateway that accepted the message and then answered late. With
``dedupe`` it delivers one message per id, as the contract in docs/reliability.md asks.

Import ``sms_gateway_fixture`` into a test module to use the ``sms_gateway`` fixture.
Modes: ``ok``, ``500``, ``slow:N`` (deliver, wait N seconds, answer 200), ``drop``
(deliver, close the connection without answering).
"""

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Request:
    message_id: str
    header_id: str
    phone: str
    text: str
    seen: object = None


@dataclass
class FakeGateway:
    url: str = ""
    mode: str = "ok"
    dedupe: bool = True
    delay: float = 0.0  # before delivering: keeps a call open, for overlap tests
    on_request: object = None  # called with the body, in the server's thread
    requests: list[Request] = field(default_factory=list)
    delivered: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        return [r.message_id for r in self.requests]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        seen = self.on_request(body) if self.on_request else None
        if self.delay:
            time.sleep(self.delay)
        request = Request(
            message_id=body.get("id", ""),
            header_id=handler.headers.get("Idempotency-Key", ""),
            phone=body["phone"],
            text=body["text"],
            seen=seen,
        )
        mode = self.mode
        with self.lock:
            self.requests.append(request)
            if mode != "500" and not (
                self.dedupe and any(d.message_id == request.message_id for d in self.delivered)
            ):
                self.delivered.append(request)
        if mode == "500":
            handler.send_response(500)
            handler.end_headers()
            return
        if mode == "drop":
            handler.close_connection = True
            handler.connection.close()
            return
        if mode.startswith("slow:"):
            time.sleep(float(mode.split(":", 1)[1]))
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.write(b'{"ok": true}')


@pytest.fixture(name="sms_gateway")
def sms_gateway_fixture(settings, monkeypatch):
    """A fake gateway the HTTP SMS backend posts to; stopped after the test."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # urllib would send 127.0.0.1 to a proxy
    gateway = FakeGateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            # The client may have given up first: what a slow gateway sees.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                gateway.handle(self)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    settings.SMS_BACKEND = "registration.sms.HttpSmsBackend"
    settings.SMS_GATEWAY_URL = gateway.url
    yield gateway
    server.shutdown()
    server.server_close()

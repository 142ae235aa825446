"""An HTTP proxy in front of moto that injects SNS faults into Publish calls:
throttling or 500s for the next N publishes, permanent errors for chosen topics,
latency, and a hook called while a publish is in flight."""

import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

_ERROR_XML = (
    '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>{kind}</Type>'
    "<Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
)
FAULTS = {
    "throttling": (400, "Sender", "Throttling", "Rate exceeded"),
    "internal": (500, "Receiver", "InternalError", "Internal failure"),
    "authorization": (403, "Sender", "AuthorizationError", "Not authorized to publish"),
}


class SnsFaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.lock = threading.Lock()
        self.fail_next: list[str] = []  # fault names, consumed one per publish
        self.denied_topics: set[str] = set()
        self.latency = 0.0
        self.on_publish: Callable[[], None] | None = None
        self.publishes = 0  # publish calls that reached the proxy, faulted or not
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.fail_next, self.denied_topics, self.latency, self.on_publish = [], set(), 0.0, None

    def stop(self) -> None:
        self.server.shutdown()

    def _fault_for(self, form: dict[str, list[str]]) -> str | None:
        with self.lock:
            self.publishes += 1
            if form.get("TopicArn", [""])[0] in self.denied_topics:
                return "authorization"
            return self.fail_next.pop(0) if self.fail_next else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                form = parse_qs(body.decode(errors="replace"))
                if form.get("Action", [""])[0] == "Publish":
                    fault = proxy._fault_for(form)
                    if fault:
                        status, kind, code, message = FAULTS[fault]
                        self._reply(status, _ERROR_XML.format(kind=kind, code=code, message=message).encode())
                        return
                    if proxy.on_publish:
                        proxy.on_publish()
                    time.sleep(proxy.latency)
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method="POST",
                    headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")},
                )  # fmt: skip
                try:
                    with urllib.request.urlopen(request, timeout=30) as reply:
                        self._reply(reply.status, reply.read(), reply.headers.get("Content-Type"))
                except urllib.error.HTTPError as error:
                    self._reply(error.code, error.read(), error.headers.get("Content-Type"))

            def _reply(self, status: int, payload: bytes, content_type: str | None = "text/xml") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

"""An HTTP proxy in front of moto that injects SNS faults into Publish and PublishBatch
calls: throttling or 500s for the next N calls, permanent errors for chosen topics,
single entries of a batch refused, latency, and a hook called while a publish is in
flight."""

import re
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

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
        self.fail_entries: dict[str, str] = {}  # batch entry Id (notification id) -> fault name, consumed once
        self.publishes = 0  # publish calls that reached the proxy, faulted or not
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.fail_next, self.denied_topics, self.latency, self.on_publish = [], set(), 0.0, None
            self.fail_entries = {}

    def stop(self) -> None:
        self.server.shutdown()

    def _fault_for(self, form: dict[str, list[str]]) -> str | None:
        with self.lock:
            self.publishes += 1
            if form.get("TopicArn", [""])[0] in self.denied_topics:
                return "authorization"
            return self.fail_next.pop(0) if self.fail_next else None

    def _refuse_entries(self, form: dict[str, list[str]]) -> tuple[dict[str, list[str]], str]:
        """Take the entries named in ``fail_entries`` out of a PublishBatch; returns the
        form to forward and the ``<Failed>`` members to answer for them."""
        prefix = "PublishBatchRequestEntries.member."
        entries: dict[int, dict[str, list[str]]] = {}
        for key, value in form.items():
            if key.startswith(prefix):
                index, field = key[len(prefix) :].split(".", 1)
                entries.setdefault(int(index), {})[field] = value
        kept, failed = [], ""
        with self.lock:
            for index in sorted(entries):
                fault = self.fail_entries.pop(entries[index]["Id"][0], None)
                if fault is None:
                    kept.append(entries[index])
                    continue
                _, kind, code, message = FAULTS[fault]
                failed += (
                    f"<member><Id>{entries[index]['Id'][0]}</Id><Code>{code}</Code><Message>{message}</Message>"
                    f"<SenderFault>{'true' if kind == 'Sender' else 'false'}</SenderFault></member>"
                )
        forwarded = {key: value for key, value in form.items() if not key.startswith(prefix)}
        for number, entry in enumerate(kept, start=1):
            forwarded.update({f"{prefix}{number}.{field}": value for field, value in entry.items()})
        return forwarded, failed

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                form = parse_qs(body.decode(errors="replace"))
                action = form.get("Action", [""])[0]
                refused = ""
                if action in ("Publish", "PublishBatch"):
                    fault = proxy._fault_for(form)
                    if fault:
                        status, kind, code, message = FAULTS[fault]
                        self._reply(status, _ERROR_XML.format(kind=kind, code=code, message=message).encode())
                        return
                    if proxy.on_publish:
                        proxy.on_publish()
                    time.sleep(proxy.latency)
                if action == "PublishBatch" and proxy.fail_entries:
                    form, refused = proxy._refuse_entries(form)
                    body = urlencode(form, doseq=True).encode()
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method="POST",
                    headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")},
                )  # fmt: skip
                try:
                    with urllib.request.urlopen(request, timeout=30) as reply:
                        payload = reply.read()
                        if refused:
                            payload = _with_failed(payload, refused)
                        self._reply(reply.status, payload, reply.headers.get("Content-Type"))
                except urllib.error.HTTPError as error:
                    self._reply(error.code, error.read(), error.headers.get("Content-Type"))

            def _reply(self, status: int, payload: bytes, content_type: str | None = "text/xml") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def _with_failed(payload: bytes, members: str) -> bytes:
    """moto's PublishBatch answer with our refused entries added to its <Failed> list."""
    text = payload.decode()
    if re.search(r"<Failed\s*/>", text):
        text = re.sub(r"<Failed\s*/>", f"<Failed>{members}</Failed>", text, count=1)
    elif "<Failed>" in text:
        text = text.replace("<Failed>", f"<Failed>{members}", 1)
    else:
        text = text.replace("</PublishBatchResult>", f"<Failed>{members}</Failed></PublishBatchResult>", 1)
    return text.encode()

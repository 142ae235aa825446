"""A minimal SNS endpoint for benchmarks: answers Publish, PublishBatch and CreateTopic
at once (or after ``--latency-ms``, to stand in for real SNS round trips), so the
figures measure the engine, not an emulator.

Each acknowledged message is appended to ``--log`` as "<unix time> <kind> <count>" so
a benchmark can count what reached SNS without trusting the engine's own ledger.

    python bench/sns_stub.py --port 0 --latency-ms 20 --log /tmp/sns.log
"""

import argparse
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

_NS = 'xmlns="http://sns.amazonaws.com/doc/2010-03-31/"'


def _publish(form: dict[str, list[str]]) -> tuple[str, int]:
    return (
        f"<PublishResponse {_NS}><PublishResult><MessageId>{uuid.uuid4()}</MessageId></PublishResult>"
        "<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></PublishResponse>",
        1,
    )


def _publish_batch(form: dict[str, list[str]]) -> tuple[str, int]:
    ids = [value[0] for key, value in form.items() if key.startswith("PublishBatchRequestEntries.member.") and
           key.endswith(".Id")]  # fmt: skip
    members = "".join(f"<member><Id>{entry}</Id><MessageId>{uuid.uuid4()}</MessageId></member>" for entry in ids)
    return (
        f"<PublishBatchResponse {_NS}><PublishBatchResult><Successful>{members}</Successful><Failed/>"
        "</PublishBatchResult><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata>"
        "</PublishBatchResponse>",
        len(ids),
    )


def _create_topic(form: dict[str, list[str]]) -> tuple[str, int]:
    name = form.get("Name", ["topic"])[0]
    arn = f"arn:aws:sns:us-east-1:000000000000:{name}"
    return (
        f"<CreateTopicResponse {_NS}><CreateTopicResult><TopicArn>{arn}</TopicArn></CreateTopicResult>"
        "<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></CreateTopicResponse>",
        0,
    )


_ACTIONS = {"Publish": _publish, "PublishBatch": _publish_batch, "CreateTopic": _create_topic}


def serve(port: int, latency_ms: float, log_path: str | None) -> ThreadingHTTPServer:
    log = open(log_path, "a", buffering=1) if log_path else None  # noqa: SIM115 (lives as long as the server)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3's pool expects
        # Headers and body go out as two writes; with Nagle on, the client's delayed ACK
        # would add ~40 ms to every call.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            action = _ACTIONS.get(form.get("Action", [""])[0])
            if latency_ms:
                time.sleep(latency_ms / 1000)
            if action is None:
                body, count, status = "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>", 0, 400
            else:
                (body, count), status = action(form), 200
            if log and count:
                with lock:
                    log.write(f"{time.time():.6f} {form['Action'][0]} {count}\n")
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--log", default=None)
    args = parser.parse_args()
    server = serve(args.port, args.latency_ms, args.log)
    print(server.server_address[1], flush=True)  # the parent reads the port from here
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A minimal SNS + SQS endpoint for benchmarks: answers Publish, PublishBatch, CreateTopic
(and the topic calls the canary makes) at once (or after ``--latency-ms``, to stand in for
real SNS round trips), so the figures measure the engine, not an emulator. It also answers
the SQS calls of the inbox consumer and the canary (botocore speaks SQS's JSON protocol):
queues are names only, and ReceiveMessage long-polls WaitTimeSeconds then answers no
messages, as an idle SQS does.

Each acknowledged message is appended to ``--log`` as "<unix time> <kind> <count>" so
a benchmark can count what reached SNS without trusting the engine's own ledger.
``GET /calls`` answers the calls received so far per action ({"sqs.ReceiveMessage": 3, ...}),
so the idle benchmark can count SQS calls.

    python bench/sns_stub.py --port 0 --latency-ms 20 --log /tmp/sns.log
"""

import argparse
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_plus

_NS = 'xmlns="http://sns.amazonaws.com/doc/2010-03-31/"'


def _form(raw: bytes) -> dict[str, list[str]]:
    """The request's form fields, each message body left out: ``parse_qs`` would decode
    every one (0.9 ms of the stub's CPU a PublishBatch of ten), and no answer reads them."""
    form: dict[str, list[str]] = {}
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        key = unquote_plus(name.decode())
        skipped = key == "Message" or key.endswith(".Message")
        form.setdefault(key, []).append("" if skipped else unquote_plus(value.decode()))
    return form


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


def _empty(action: str) -> Callable[[dict[str, list[str]]], tuple[str, int]]:
    def answer(form: dict[str, list[str]]) -> tuple[str, int]:
        return f"<{action}Response {_NS}><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata>" \
               f"</{action}Response>", 0  # fmt: skip

    return answer


def _get_topic_attributes(form: dict[str, list[str]]) -> tuple[str, int]:
    arn = form.get("TopicArn", [""])[0]
    return (
        f"<GetTopicAttributesResponse {_NS}><GetTopicAttributesResult><Attributes><entry><key>TopicArn</key>"
        f"<value>{arn}</value></entry></Attributes></GetTopicAttributesResult>"
        "<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></GetTopicAttributesResponse>",
        0,
    )


def _subscribe(form: dict[str, list[str]]) -> tuple[str, int]:
    arn = f"{form.get('TopicArn', ['arn:aws:sns:us-east-1:000000000000:topic'])[0]}:{uuid.uuid4()}"
    return (
        f"<SubscribeResponse {_NS}><SubscribeResult><SubscriptionArn>{arn}</SubscriptionArn></SubscribeResult>"
        "<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></SubscribeResponse>",
        0,
    )


_ACTIONS = {
    "Publish": _publish, "PublishBatch": _publish_batch, "CreateTopic": _create_topic,
    "GetTopicAttributes": _get_topic_attributes, "SetTopicAttributes": _empty("SetTopicAttributes"),
    "Subscribe": _subscribe,
}  # fmt: skip


# --- SQS (JSON protocol: X-Amz-Target "AmazonSQS.<Action>", a JSON body) ---------------

_ACCOUNT = "000000000000"


def _queue_name(request: dict) -> str:
    return request.get("QueueName") or request.get("QueueUrl", "").rsplit("/", 1)[-1]


def _sqs_answer(action: str, request: dict, base_url: str) -> tuple[int, dict]:
    name = _queue_name(request)
    if action in ("CreateQueue", "GetQueueUrl"):
        return 200, {"QueueUrl": f"{base_url}/{_ACCOUNT}/{name}"}
    if action == "GetQueueAttributes":
        return 200, {"Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:{_ACCOUNT}:{name}",
                                    "SqsManagedSseEnabled": "true"}}  # fmt: skip
    if action == "ReceiveMessage":
        time.sleep(min(float(request.get("WaitTimeSeconds", 0)), 20.0))  # an idle long poll
        return 200, {}
    if action in ("DeleteMessageBatch", "SendMessageBatch"):
        return 200, {"Successful": [{"Id": entry["Id"]} for entry in request.get("Entries", [])], "Failed": []}
    if action in ("SetQueueAttributes", "DeleteMessage", "PurgeQueue"):
        return 200, {}
    return 400, {"__type": "com.amazonaws.sqs#InvalidAction", "message": f"stub: {action} not answered"}


def serve(port: int, latency_ms: float, log_path: str | None) -> ThreadingHTTPServer:
    log = open(log_path, "a", buffering=1) if log_path else None  # noqa: SIM115 (lives as long as the server)
    lock = threading.Lock()
    calls: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3's pool expects
        # Headers and body go out as two writes; with Nagle on, the client's delayed ACK
        # would add ~40 ms to every call.
        disable_nagle_algorithm = True

        def _answer(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            with lock:
                payload = json.dumps(dict(calls)).encode()
            self._answer(200, payload, "application/json")

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            target = self.headers.get("X-Amz-Target", "")
            if target.startswith("AmazonSQS."):
                self._sqs(target.removeprefix("AmazonSQS."), raw)
                return
            form = _form(raw)
            with lock:
                calls[f"sns.{form.get('Action', ['?'])[0]}"] += 1
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
            self._answer(status, body.encode(), "text/xml")

        def _sqs(self, action: str, raw: bytes) -> None:
            with lock:
                calls[f"sqs.{action}"] += 1
            base_url = f"http://{self.headers.get('Host', '127.0.0.1')}"
            status, answer = _sqs_answer(action, json.loads(raw or b"{}"), base_url)
            self._answer(status, json.dumps(answer).encode(), "application/x-amz-json-1.0")

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

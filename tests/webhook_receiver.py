"""A real HTTPS endpoint for webhook subscriptions: moto's SNS POSTs to https
subscribers during Publish, as SNS does, so a test can see what each webhook got.

The certificate is self-signed for 127.0.0.1 and trusted through REQUESTS_CA_BUNDLE,
which the requests library (that moto posts with) reads on every call; ``bundle_with``
adds it to the bundle in use, so other TLS peers still verify.
"""

import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


# Where it listens; the webhook guard refuses it unless NOTIFIER_WEBHOOK_ALLOW names it.
WEBHOOK_RECEIVER_HOST = "127.0.0.1"


class WebhookReceiver:
    """Records every POST by path: {path: [SNS envelope dict, ...]}."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self.cert_path, key_path = _self_signed(Path(self._dir.name))
        self.received: dict[str, list[dict]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                envelope = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    receiver.received.setdefault(self.path, []).append(envelope)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((WEBHOOK_RECEIVER_HOST, 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"https://{WEBHOOK_RECEIVER_HOST}:{self._server.server_address[1]}{path}"

    def messages(self, path: str) -> list[dict]:
        """The documents (the SNS envelope's Message) that reached one path."""
        with self._lock:
            return [json.loads(envelope["Message"]) for envelope in self.received.get(path, [])]

    def bundle_with(self, bundle: str) -> Path:
        """A CA bundle file: ``bundle``'s certificates plus this receiver's."""
        combined = Path(self._dir.name) / "bundle.pem"
        combined.write_bytes(Path(bundle).read_bytes() + b"\n" + self.cert_path.read_bytes())
        return combined

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._dir.cleanup()

"""``make run``: the whole engine with a demo, on embedded services where none are configured.

Starts (or reuses) PostgreSQL, Redis and an SNS/SQS emulator, migrates, seeds the demo,
then runs web + worker + beat + Flower + the in-app inbox consumer together, prefixing
their logs, and prints what arrives in the demo SQS queue. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))
import services

ROOT = services.ROOT
PYTHON = sys.executable
WEB_PORT = int(os.environ.get("WEB_PORT", "8000"))
FLOWER_PORT = int(os.environ.get("FLOWER_PORT", "5555"))
_print_lock = threading.Lock()


def say(prefix: str, line: str) -> None:
    with _print_lock:
        print(f"{prefix:>8} | {line}", flush=True)


def pipe_output(prefix: str, process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        say(prefix, line.rstrip())


def start(prefix: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
    )  # fmt: skip
    threading.Thread(target=pipe_output, args=(prefix, process), daemon=True).start()
    return process


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


def watch_demo_inbox(env: dict[str, str], queue_url: str, stop: threading.Event) -> None:
    """Print each message that reaches the demo inbox, with its lag behind the due time."""
    import boto3

    sqs = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=env.get("AWS_SESSION_TOKEN"),
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
    ).client("sqs", endpoint_url=env.get("AWS_ENDPOINT_URL"))
    while not stop.is_set():
        try:
            reply = sqs.receive_message(
                QueueUrl=queue_url, WaitTimeSeconds=2, MaxNumberOfMessages=10, AttributeNames=["SentTimestamp"]
            )
        except Exception as exc:  # the emulator is going down with us
            if not stop.is_set():
                say("sqs", f"cannot read the demo queue: {exc}")
            return
        for message in reply.get("Messages", []):
            body = json.loads(message["Body"])
            received = int(message["Attributes"]["SentTimestamp"]) / 1000
            due = datetime.fromisoformat(body["due_at"].replace("Z", "+00:00")).timestamp()
            say("sqs", f"received {body['title']!r} (notification {body['notification_id']}), "
                         f"{received - due:+.2f}s after due")  # fmt: skip
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stop_on_signal(signum: int, frame: object) -> None:
    # A second Ctrl-C must not abort the orderly stop half-way and orphan children.
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise KeyboardInterrupt


def encryption_keys_file() -> Path:
    """A Fernet key made on the first `make run` and kept in .run/: the demo's contact data
    is encrypted at rest as in production, and stays readable across restarts."""
    path = services.RUN_DIR / "encryption-keys"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode() + "\n")
    return path


def main() -> None:
    # Set explicitly: a shell that starts us in the background leaves SIGINT ignored.
    for signum in STOP_SIGNALS:
        signal.signal(signum, stop_on_signal)
    env = services.prepare(redis_db=None, with_aws=True)
    env.setdefault("DJANGO_DEBUG", "true")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not env.get("NOTIFIER_ENCRYPTION_KEYS") and not env.get("NOTIFIER_ENCRYPTION_KEYS_FILE"):
        env["NOTIFIER_ENCRYPTION_KEYS_FILE"] = str(encryption_keys_file())
    # A canary a minute, so the demo shows its lag within two minutes (production: 300 s).
    env.setdefault("NOTIFIER_CANARY_INTERVAL_SECONDS", "60")
    env["PYTHONUNBUFFERED"] = "1"
    manage(env, "migrate", "--noinput")
    demo = manage(env, "seed_demo")
    queue_url = demo.strip().splitlines()[-1].split(": ", 1)[1]

    celery = [PYTHON, "-m", "celery", "-A", "config"]
    processes = {
        "web": start("web", [PYTHON, "manage.py", "runserver", f"127.0.0.1:{WEB_PORT}", "--noreload"], env),
        "worker": start("worker", [*celery, "worker", "-l", "info", "-c", "2", "-n", "demo@%h"], env),
        "beat": start("beat", [*celery, "beat", "-l", "info", "-s", str(services.RUN_DIR / "beat")], env),
        "flower": start("flower", [*celery, "flower", f"--port={FLOWER_PORT}", "--address=127.0.0.1"], env),
        "inbox": start("inbox", [PYTHON, "manage.py", "consume_inbox", "--wait", "10"], env),
    }
    stop = threading.Event()
    threading.Thread(target=watch_demo_inbox, args=(env, queue_url, stop), daemon=True).start()

    say("demo", "-" * 72)
    for line in demo.strip().splitlines():
        say("demo", line)
    say("demo", f"admin:   http://127.0.0.1:{WEB_PORT}/admin/   (the login above)")
    say("demo", f"dashboard: http://127.0.0.1:{WEB_PORT}/admin/dashboard/   (same login; tomorrow's load seeded)")
    canary_every = env["NOTIFIER_CANARY_INTERVAL_SECONDS"]
    say("demo", f"canary:  every {canary_every} s through the whole engine; its lag on the dashboard")
    say("demo", f"API:     http://127.0.0.1:{WEB_PORT}/api/v1/   schema: /api/schema/")
    say("demo", f"Flower:  http://127.0.0.1:{FLOWER_PORT}/   metrics: /metrics")
    say("demo", f"in-app:  http://127.0.0.1:{WEB_PORT}/api/v1/inbox/   (Authorization: Token <the token above>)")
    say("demo", "the notifications above fire at their due times: watch for 'sqs' and 'inbox' lines. Ctrl-C stops all.")
    say("demo", "-" * 72)

    try:
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        dead = [name for name, process in processes.items() if process.poll() is not None]
        say("run", f"{', '.join(dead)} exited; stopping the rest")
    except KeyboardInterrupt:
        say("run", "stopping")
    finally:
        stop.set()
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()

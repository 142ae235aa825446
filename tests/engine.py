"""The engine in processes of its own (worker, commands, web) during a test: where they
run, where they log, and the environment that points them at the test database and Redis."""

import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

from tests.webhook_receiver import WEBHOOK_RECEIVER_HOST

ROOT = Path(__file__).resolve().parents[1]
LOG_DIR = ROOT / ".run" / "test-logs"


def database_url() -> str:
    """A DATABASE_URL for subprocesses (worker, commands) pointing at the test database."""
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or ""
    socket_dir = (db.get("OPTIONS") or {}).get("host")
    if host:
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgresql://{user}{password}@{host}{port}/{db['NAME']}"
    return f"postgresql://{user}{password}@/{db['NAME']}?host={socket_dir}"


def engine_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="true",
        PYTHONUNBUFFERED="1",
        # The test webhook receiver listens on loopback, which the webhook guard refuses
        # unless allowed (the worker re-checks a webhook before subscribing it).
        NOTIFIER_WEBHOOK_ALLOW=WEBHOOK_RECEIVER_HOST,
    )
    env.update(overrides)
    return env


def wait_until(check: Callable[[], object], timeout: float) -> bool:
    """Poll ``check`` every 0.2 s until it is truthy or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return bool(check())

"""One JSON object per log line (``NOTIFIER_LOG_FORMAT=json``, issue 14 point 6).

Each line has ``timestamp`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, plus
the fields that name what the line is about, when the call site gives them with
``extra=`` (``log_fields``): ``notification_id``, ``key``, ``event_id``, ``topic``,
``attempt``; ``worker`` (host:pid, as ``DeliveryAttempt.worker`` says it) on every line of
a Celery worker process; a traceback as the string ``exception``. So one notification is
followed from plan to arm to fire to inbox with ``jq 'select(.notification_id==42)'``.

The contact-data filter (``config.masking``) runs on the handler before this formatter,
so ``message`` and ``exception`` arrive masked; every string field is masked here again
(masking is idempotent), so a handler without the filter, or an ``extra=`` field that
ever carries an endpoint, cannot put one in clear. A config leaf: no Django import, so gunicorn's
logger and Celery's hooks use it as settings.LOGGING does.
"""

import json
import logging
import os
import socket
import sys
import time
from typing import Any

from config.masking import scrub_contact_data

# The fields a line carries when it is about one notification, in the order shown.
CONTEXT_FIELDS = ("notification_id", "key", "event_id", "topic", "attempt", "worker")

# Set in Celery worker processes (config.celery_app): every line they write names the worker.
_worker_host: str | None = None


def worker_name() -> str:
    """This process as a worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def name_worker_lines() -> None:
    """From now on, every line of this process carries ``worker`` (its pid read per line,
    so a forked pool process names itself, not its parent)."""
    global _worker_host
    _worker_host = socket.gethostname()


def log_fields(
    *,
    notification_id: int | None = None,
    key: str | None = None,
    event_id: int | None = None,
    topic: str | None = None,
    attempt: int | None = None,
    **more: object,
) -> dict[str, object]:
    """The ``extra=`` of a line about one notification; None values are left out."""
    given = {"notification_id": notification_id, "key": key, "event_id": event_id, "topic": topic, "attempt": attempt}
    return {name: value for name, value in (given | more).items() if value is not None}


def _masked(value: Any) -> Any:
    """A field's value as written: numbers and booleans as they are, anything else as its
    text, masked. Text first, then masking: an object's str() (Django passes the request
    of a failed one as ``extra``) may quote an address."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_contact_data(value if isinstance(value, str) else str(value))


def _timestamp(created: float) -> str:
    # time.strftime over datetime: this runs once per line.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub_contact_data(record.getMessage()),
        }
        attributes = record.__dict__
        for name in CONTEXT_FIELDS:
            value = attributes.get(name)
            if value is not None:
                entry[name] = _masked(value)
        if "worker" not in entry and _worker_host is not None:
            entry["worker"] = f"{_worker_host}:{os.getpid()}"
        # Any other ``extra=`` field (lag_ms, state, eta...) is shown under its own name.
        for name in attributes.keys() - _RECORD_ATTRIBUTES - entry.keys():
            entry[name] = _masked(attributes[name])
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = scrub_contact_data(record.exc_text)
        if record.stack_info:
            entry["stack"] = scrub_contact_data(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


# What every LogRecord has (and what formatters and Celery add), never an ``extra=`` field.
_RECORD_ATTRIBUTES: frozenset[str] = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
        "task_id",
        "task_name",
        "data",  # celery's trace lines pass their arguments as record.data: already in the message
    }
)


def json_say(message: str, stream: Any = sys.__stderr__) -> None:
    """Celery's ``safe_say`` (its shutdown notices, written from signal handlers straight to
    the stream, past logging) as a JSON line; os.write, like the original, takes no lock."""
    if not hasattr(stream, "fileno"):
        return
    entry = {
        "timestamp": _timestamp(time.time()),
        "level": "WARNING",
        "logger": "celery.apps.worker",
        "message": message.strip(),
    }
    if _worker_host is not None:
        entry["worker"] = f"{_worker_host}:{os.getpid()}"
    os.write(stream.fileno(), (json.dumps(entry, ensure_ascii=False) + "\n").encode())

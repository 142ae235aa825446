"""The Celery application: ``celery -A config worker|beat|flower``."""

import logging
import logging.config
import os
from typing import Any

from celery import Celery, signals

from config.json_logging import JsonFormatter, json_say, name_worker_lines
from config.masking import ContactDataFilter
from config.worker_heartbeat import WorkerHeartbeat
from config.worker_idle import QuietIdleWorker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add(WorkerHeartbeat)
app.steps["worker"].add(QuietIdleWorker)


def _json_logs() -> bool:
    from django.conf import settings

    return settings.NOTIFIER_LOG_FORMAT == "json"


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def mask_contact_data(logger: logging.Logger, **_: Any) -> None:
    """Celery replaces the root logger's handlers (and gives task loggers their own), so
    the filter and formatter settings.LOGGING put on the console handler are gone: put
    them on these."""
    json_logs = _json_logs()
    for handler in logger.handlers:
        if not any(isinstance(f, ContactDataFilter) for f in handler.filters):
            handler.addFilter(ContactDataFilter())
        if json_logs:
            handler.setFormatter(JsonFormatter())


@signals.worker_init.connect
@signals.worker_process_init.connect
def name_the_worker_in_log_lines(**_: Any) -> None:
    name_worker_lines()


@signals.task_prerun.connect
@signals.task_postrun.connect
def recycle_database_connections(sender: Any = None, **_: Any) -> None:
    """What Django does around each request: drop a connection that has errors or is
    older than CONN_MAX_AGE, and have the next query check it first (CONN_HEALTH_CHECKS),
    so a connection the server dropped between tasks is replaced, not failed on. Not for
    a task run eagerly: that is the caller's connection, maybe inside its transaction."""
    from django.db import close_old_connections

    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


@signals.celeryd_init.connect
def json_from_the_start(**_: Any) -> None:
    """With JSON logs, the settings' logging from the worker's first line: Celery warns
    (running as root, say) before Django or Celery set logging up, and a warning printed
    then would be a plain-text line."""
    if _json_logs():
        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)
        logging.captureWarnings(True)


@signals.celeryd_after_setup.connect
def json_only_on_stdout(instance: Any, **_: Any) -> None:
    """With JSON logs, the worker's start-up banner (plain text, printed past logging) is
    left out, and its shutdown notices are written as JSON: every line parses. The
    banner's facts are in the log anyway ("celery@host ready", the queues at DEBUG)."""
    if _json_logs():
        import celery.apps.worker

        instance.quiet = True
        celery.apps.worker.safe_say = json_say  # looked up when a signal arrives
